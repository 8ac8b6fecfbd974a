/**
 * Port names as tcpdump prints them without -n: it loads /etc/services through getservent() and
 * looks TCP and UDP ports up separately. These are the entries of Ubuntu's netbase (the AKS node
 * image) that traffic in a cluster is likely to use; any other port prints as its number.
 */

const TCP_NAMES: Readonly<Record<number, string>> = {
  20: "ftp-data",
  21: "ftp",
  22: "ssh",
  23: "telnet",
  25: "smtp",
  53: "domain",
  80: "http",
  88: "kerberos",
  111: "sunrpc",
  179: "bgp",
  389: "ldap",
  443: "https",
  445: "microsoft-ds",
  636: "ldaps",
  993: "imaps",
  995: "pop3s",
  2049: "nfs",
  3306: "mysql",
  5432: "postgresql",
  8080: "http-alt",
};

const UDP_NAMES: Readonly<Record<number, string>> = {
  53: "domain",
  67: "bootps",
  68: "bootpc",
  69: "tftp",
  88: "kerberos",
  111: "sunrpc",
  123: "ntp",
  161: "snmp",
  162: "snmp-trap",
  389: "ldap",
  500: "isakmp",
  514: "syslog",
  2049: "nfs",
};

export function portName(proto: "tcp" | "udp", port: number): string {
  return (proto === "tcp" ? TCP_NAMES : UDP_NAMES)[port] ?? String(port);
}

/**
 * A service name in a filter (`port http`): its port and the protocols it is defined for. libpcap
 * (pcap_nametoport) restricts the primitive to TCP or UDP when the name exists for only one of them.
 */
export function servicePort(name: string): { port: number; tcp: boolean; udp: boolean } | null {
  const lookup = (table: Readonly<Record<number, string>>) => {
    const hit = Object.entries(table).find(([, n]) => n === name);
    return hit ? Number(hit[0]) : null;
  };
  const tcp = lookup(TCP_NAMES) ?? (name === "www" ? 80 : null); // netbase's alias for http
  const udp = lookup(UDP_NAMES);
  const port = tcp ?? udp;
  return port === null ? null : { port, tcp: tcp !== null, udp: udp !== null };
}
