/**
 * The seed's AKS node rebuilt in network namespaces (Azure CNI bridge mode):
 *
 *   client (109.125.120.58/32) --veth-- node: pwk-azure0 bridge 10.13.76.4/24 --veth-- pod1, pod2
 *
 * The node's NIC (`pwk-eth0`, AKS's eth0) is a port of the bridge, as on a real node, so traffic from
 * the internet arrives on the bridge device. The LoadBalancer VIP is not an address of the node
 * (Azure's floating IP): the client routes it to the node, which DNATs it to a pod. br_netfilter is
 * turned off inside the node so every packet crosses netfilter once, as a routed IPv4 packet (the
 * model the simulator implements). Pods run a tiny HTTP server that answers with the peer it saw,
 * and drop (in raw PREROUTING) any packet with DSCP 8: the marker of our hand-made SYN probes, so a
 * probe leaves exactly one packet's worth of counters and an [UNREPLIED] entry on the node.
 */
import type { ChildProcess } from "node:child_process";
import { spawnSync } from "node:child_process";
import { parseIptablesSave } from "../../src/inputs/iptables/parse-save.ts";
import type { RulesetFile } from "../../src/model/netfilter/ruleset.ts";
import type { Lab } from "./netns.ts";

export const NODE_IP = "10.13.76.4";
export const CLIENT_IP = "109.125.120.58";
export const BRIDGE = "pwk-azure0";
export const NIC = "pwk-eth0";
/** DSCP of SYN probes (TOS byte 0x20); pods drop these before conntrack sees them. */
export const PROBE_DSCP = 8;
/** A bare SYN: 20 bytes of IPv4 header, 20 of TCP, no options. What the counters' bytes grow by. */
export const PROBE_LENGTH = 40;

export interface SeedSpec {
  readonly name: "cluster" | "local";
  readonly rulesFile: string;
  readonly vip: string;
  readonly clusterIp: string;
  readonly nodePort: number;
  readonly pods: readonly { readonly short: "pod1" | "pod2"; readonly ip: string }[];
}

export const SEED_CLUSTER: SeedSpec = {
  name: "cluster",
  rulesFile: "examples/seed-cluster.rules",
  vip: "51.144.176.251",
  clusterIp: "10.0.159.58",
  nodePort: 30064,
  pods: [
    { short: "pod1", ip: "10.13.76.26" },
    { short: "pod2", ip: "10.13.76.7" },
  ],
};

export const SEED_LOCAL: SeedSpec = {
  name: "local",
  rulesFile: "examples/seed-local.rules",
  vip: "13.93.66.174",
  clusterIp: "10.0.12.96",
  nodePort: 32663,
  pods: [
    { short: "pod1", ip: "10.13.76.15" },
    { short: "pod2", ip: "10.13.76.30" },
  ],
};

export interface Backend {
  readonly name: "legacy" | "nft";
  readonly restore: string;
  readonly save: string;
}

export const LEGACY: Backend = {
  name: "legacy",
  restore: "iptables-legacy-restore",
  save: "iptables-legacy-save",
};
export const NFT: Backend = { name: "nft", restore: "iptables-nft-restore", save: "iptables-nft-save" };

/** The interpreter behind `python3` (skips pyenv's shim on every call). */
export function pythonPath(): string {
  const r = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" });
  const path = r.stdout?.trim();
  if (r.status !== 0 || !path) throw new Error(`python3 did not start: ${r.stderr}`);
  return path;
}

/** Answers any request with `pod=NAME peer=IP:PORT`, the peer as the pod's socket saw it. */
const SERVER_PY = `
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(128)
print("ready", flush=True)
while True:
    c, (ip, p) = s.accept()
    try:
        c.settimeout(2)
        try:
            c.recv(4096)
        except OSError:
            pass
        body = ("pod=%s peer=%s:%d\\n" % (name, ip, p)).encode()
        c.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n" % len(body) + body)
    except OSError:
        pass
    finally:
        c.close()
`;

/** One HTTP/1.0 exchange from a fixed source port; prints the body, or `error <errno name>`. */
const CLIENT_PY = `
import errno, socket, sys
dst, dport, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.settimeout(float(sys.argv[4]))
try:
    if sport:
        s.bind(("0.0.0.0", sport))
    s.connect((dst, dport))
    s.sendall(b"GET / HTTP/1.0\\r\\nHost: whereami\\r\\n\\r\\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    print(data.split(b"\\r\\n\\r\\n", 1)[1].decode().strip())
except socket.timeout:
    print("error timeout")
except OSError as e:
    print("error " + errno.errorcode.get(e.errno, str(e.errno)))
finally:
    s.close()
`;

/** Bare SYNs (no options, 40 bytes) from SRC to DST:DPORT with the given TOS, one per source port. */
const SYN_PY = `
import random, socket, struct, sys
src, dst, dport, tos = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
S, D = socket.inet_aton(src), socket.inet_aton(dst)
def csum(b):
    if len(b) % 2:
        b += b"\\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for sport in map(int, sys.argv[5:]):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, random.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
    c = csum(S + D + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 40, 0, 0x4000, 64, 6, 0, S, D)
    s.sendto(ip + tcp, (dst, 0))
`;

export class AksNode {
  readonly client: string;
  readonly node: string;
  readonly pods: readonly { readonly ns: string; readonly short: string; readonly ip: string }[];
  private readonly servers: ChildProcess[] = [];

  constructor(
    readonly lab: Lab,
    readonly spec: SeedSpec,
    readonly backend: Backend,
    readonly python: string,
  ) {
    this.client = lab.addNamespace("client");
    this.node = lab.addNamespace("node");
    this.pods = spec.pods.map((p) => ({ ns: lab.addNamespace(p.short), short: p.short, ip: p.ip }));
    this.wire();
  }

  private wire(): void {
    const { lab, node, client } = this;
    // No multicast snooping: otherwise the bridge joins 224.0.0.106 and its unsolicited IGMP reports
    // cross the node's OUTPUT and POSTROUTING chains at random moments, moving counters.
    lab.addBridge(node, BRIDGE, ["mcast_snooping", "0"]);
    lab.addVeth(node, NIC, client, NIC);
    this.pods.forEach((pod, i) => {
      lab.addVeth(node, `pwk-azv${i + 1}`, pod.ns, NIC);
    });
    for (const port of [NIC, ...this.pods.map((_, i) => `pwk-azv${i + 1}`)]) {
      lab.ip(node, ["link", "set", port, "master", BRIDGE]);
      lab.ip(node, ["link", "set", port, "up"]);
    }
    lab.ip(node, ["addr", "add", `${NODE_IP}/24`, "dev", BRIDGE]);
    lab.ip(node, ["link", "set", BRIDGE, "up"]);
    lab.ip(node, ["route", "add", `${CLIENT_IP}/32`, "dev", BRIDGE]);
    lab.sysctl(node, "net.ipv4.ip_forward", "1");
    lab.sysctl(node, "net.ipv4.icmp_ratemask", "0");
    for (const c of ["all", "default", BRIDGE]) {
      lab.sysctl(node, `net.ipv4.conf.${c}.send_redirects`, "0");
      lab.sysctl(node, `net.ipv4.conf.${c}.rp_filter`, "0");
    }
    if (lab.tryExec(node, ["test", "-e", "/proc/sys/net/bridge/bridge-nf-call-iptables"]).status === 0)
      lab.sysctl(node, "net.bridge.bridge-nf-call-iptables", "0");

    lab.ip(client, ["addr", "add", `${CLIENT_IP}/32`, "dev", NIC]);
    lab.ip(client, ["link", "set", NIC, "up"]);
    lab.ip(client, ["route", "add", `${NODE_IP}/32`, "dev", NIC]);
    // The Azure LB's floating IP: the VIP reaches the node unchanged.
    lab.ip(client, ["route", "add", `${this.spec.vip}/32`, "via", NODE_IP, "dev", NIC]);

    for (const pod of this.pods) {
      lab.ip(pod.ns, ["addr", "add", `${pod.ip}/24`, "dev", NIC]);
      lab.ip(pod.ns, ["link", "set", NIC, "up"]);
      lab.ip(pod.ns, ["route", "add", "default", "via", NODE_IP]);
      lab.sysctl(pod.ns, "net.ipv4.conf.all.accept_redirects", "0");
      lab.exec(pod.ns, [
        "iptables-legacy",
        "-t",
        "raw",
        "-A",
        "PREROUTING",
        "-m",
        "dscp",
        "--dscp",
        String(PROBE_DSCP),
        "-j",
        "DROP",
      ]);
    }
  }

  /** Starts the pod servers and waits until they listen. */
  async startServers(): Promise<void> {
    const ready = this.pods.map((pod) => {
      const child = this.lab.spawn(pod.ns, [this.python, "-c", SERVER_PY, pod.short, "80"]);
      this.servers.push(child);
      return new Promise<void>((resolve, reject) => {
        let out = "";
        let err = "";
        const timer = setTimeout(() => reject(new Error(`server in ${pod.short} not ready: ${err}`)), 10_000);
        child.stderr?.on("data", (d: Buffer) => {
          err += d.toString();
        });
        child.stdout?.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("ready")) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`server in ${pod.short} exited (${code}): ${err}`));
        });
      });
    });
    await Promise.all(ready);
  }

  /** iptables-restore of a whole ruleset into the node (tables it names are replaced). */
  restore(text: string): void {
    this.lab.exec(this.node, [this.backend.restore], text);
  }

  /** The node's ruleset with exact counters (`iptables-save -c`), parsed by our own parser. */
  saveCounters(): RulesetFile {
    const text = this.lab.exec(this.node, [this.backend.save, "-c"]);
    const parsed = parseIptablesSave(text, `${this.backend.save} -c`);
    const errors = parsed.diagnostics.filter((d) => d.severity === "error");
    if (errors.length > 0) throw new Error(`cannot parse the kernel's dump: ${errors[0]?.message}\n${text}`);
    return parsed.value;
  }

  /** How many probe packets a pod's raw PREROUTING DSCP rule has dropped (i.e. received). */
  probesReceived(podShort: string): bigint {
    const pod = this.pods.find((p) => p.short === podShort);
    if (!pod) throw new Error(`no pod ${podShort}`);
    const text = this.lab.exec(pod.ns, ["iptables-legacy-save", "-c", "-t", "raw"]);
    const rule = parseIptablesSave(text, "pod raw").value.dumps[0]?.tables[0]?.chains.find(
      (c) => c.name === "PREROUTING",
    )?.rules[0];
    return rule?.counters?.packets ?? 0n;
  }

  /** `conntrack -L` lines in a namespace (the node by default), with optional filters. */
  conntrack(args: readonly string[] = [], ns = this.node): string[] {
    return this.lab
      .exec(ns, ["conntrack", "-L", ...args])
      .split("\n")
      .filter((l) => l !== "");
  }

  /** Sends bare SYN probes (DSCP 8) from a namespace. */
  sendSyns(fromNs: string, src: string, dst: string, dport: number, sports: readonly number[]): void {
    this.lab.exec(fromNs, [
      this.python,
      "-c",
      SYN_PY,
      src,
      dst,
      String(dport),
      String(PROBE_DSCP << 2),
      ...sports.map(String),
    ]);
  }

  /** One HTTP exchange; returns the body (`pod=... peer=...`) or `error ...`. */
  http(fromNs: string, dst: string, dport: number, sport: number, timeoutS = 3): string {
    return this.lab
      .exec(
        fromNs,
        [this.python, "-c", CLIENT_PY, dst, String(dport), String(sport), String(timeoutS)],
        undefined,
        20_000,
      )
      .trim();
  }
}

export function parsePeer(body: string): { pod: string; ip: string; port: number } | null {
  const m = /^pod=(\S+) peer=([\d.]+):(\d+)$/.exec(body);
  return m ? { pod: m[1] as string, ip: m[2] as string, port: Number(m[3]) } : null;
}
