/**
 * IP protocol names as iptables prints them. iptables-save (1.8.x `proto_to_name`) asks
 * getprotobynumber() first, i.e. /etc/protocols from Debian's netbase, then its own short list;
 * so 47 prints as `gre` and 58 as `ipv6-icmp`. Numbers below are netbase's, one name each (the first).
 */
const BY_NUMBER: ReadonlyMap<number, string> = new Map([
  [1, "icmp"],
  [2, "igmp"],
  [3, "ggp"],
  [4, "ipencap"],
  [5, "st"],
  [6, "tcp"],
  [8, "egp"],
  [9, "igp"],
  [12, "pup"],
  [17, "udp"],
  [20, "hmp"],
  [22, "xns-idp"],
  [27, "rdp"],
  [29, "iso-tp4"],
  [33, "dccp"],
  [36, "xtp"],
  [37, "ddp"],
  [38, "idpr-cmtp"],
  [41, "ipv6"],
  [43, "ipv6-route"],
  [44, "ipv6-frag"],
  [45, "idrp"],
  [46, "rsvp"],
  [47, "gre"],
  [50, "esp"],
  [51, "ah"],
  [57, "skip"],
  [58, "ipv6-icmp"],
  [59, "ipv6-nonxt"],
  [60, "ipv6-opts"],
  [73, "rspf"],
  [81, "vmtp"],
  [88, "eigrp"],
  [89, "ospf"],
  [93, "ax.25"],
  [94, "ipip"],
  [97, "etherip"],
  [98, "encap"],
  [103, "pim"],
  [108, "ipcomp"],
  [112, "vrrp"],
  [115, "l2tp"],
  [124, "isis"],
  [132, "sctp"],
  [133, "fc"],
  [135, "mobility-header"],
  [136, "udplite"],
  [137, "mpls-in-ip"],
  [138, "manet"],
  [139, "hip"],
  [140, "shim6"],
  [141, "wesp"],
  [142, "rohc"],
  [143, "ethernet"],
]);

/** Names iptables accepts besides netbase's (its xtables_chain_protos list and aliases). */
const EXTRA_NAMES: ReadonlyMap<string, number> = new Map([
  ["all", 0],
  ["icmpv6", 58],
  ["mh", 135],
  ["ipv6-mh", 135],
]);

const BY_NAME: ReadonlyMap<string, number> = new Map([
  ...[...BY_NUMBER].map(([n, name]) => [name, n] as const),
  ...EXTRA_NAMES,
]);

export function protoName(proto: number): string {
  return BY_NUMBER.get(proto) ?? String(proto);
}

/** Parses `-p` values: a name (case-insensitive, as iptables lowercases) or a number 0-255. */
export function parseProto(text: string): number | null {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n <= 255 ? n : null;
  }
  return BY_NAME.get(text.toLowerCase()) ?? null;
}
