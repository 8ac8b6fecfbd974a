import type { Diagnostic } from "../../core/diagnostic.ts";
import { formatIpv4, parseIpNet, parseIpv4 } from "../../core/ip.ts";
import type { Scenario } from "../../model/scenario.ts";
import { isLegacyVersion } from "./defaults.ts";
import type { PathSegment, Where } from "./yaml-source.ts";

/**
 * The address plan's semantic checks, one clear error each, as Azure and AKS would refuse the
 * deployment: overlapping networks, a DNS IP outside the service range, a subnet too small for
 * its nodes and their pods, hosts and pinned addresses outside their subnets.
 */

interface Net4 {
  readonly addr: number;
  readonly mask: number;
  readonly prefix: number;
}

export function net4(text: string): Net4 | null {
  const n = parseIpNet(text, 4);
  return n && n.family === 4 && n.prefix !== null ? { addr: n.addr, mask: n.mask, prefix: n.prefix } : null;
}

export const contains = (n: Net4, ip: number) => (ip & n.mask) >>> 0 === n.addr;
const overlaps = (a: Net4, b: Net4) => contains(a, b.addr) || contains(b, a.addr);
const last = (n: Net4) => (n.addr | (~n.mask >>> 0)) >>> 0;

/** Azure keeps .0 (network), .1 (gateway), .2-.3 (DNS) and the broadcast address of every subnet. */
export function azureReserved(n: Net4, ip: number): boolean {
  return ip - n.addr < 4 || ip === last(n);
}

export type Report = (path: readonly PathSegment[], code: string, why: string) => void;

export function reporter(where: Where, out: Diagnostic[]): Report {
  return (path, code, why) => {
    const pos = where.at(path);
    out.push({
      code,
      severity: "error",
      message: `Cannot use scenario ${where.file} at line ${pos.line}: ${why}`,
      source: { file: where.file, ...pos },
    });
  };
}

export function checkNetwork(s: Scenario, report: Report): void {
  const c = s.cluster;
  const vnets = s.vnet.addressPrefixes.map((p) => net4(p)!);
  const subnets = s.vnet.subnets.map((sn) => ({ ...sn, net: net4(sn.prefix)! }));
  const legacy = isLegacyVersion(c.kubernetesVersion);

  vnets.forEach((v, i) => {
    const j = vnets.findIndex((w, k) => k < i && overlaps(v, w));
    if (j >= 0)
      report(
        ["vnet", "addressPrefixes", i],
        "scenario-cidr-overlap",
        `VNet prefix ${s.vnet.addressPrefixes[i]} overlaps ${s.vnet.addressPrefixes[j]}`,
      );
  });
  subnets.forEach((sn, i) => {
    const at = ["vnet", "subnets", i, "prefix"];
    if (!vnets.some((v) => contains(v, sn.net.addr) && contains(v, last(sn.net))))
      report(
        at,
        "scenario-cidr-overlap",
        `subnet ${sn.name} (${sn.prefix}) is outside the VNet's address space ${s.vnet.addressPrefixes.join(", ")}`,
      );
    const other = subnets.find((o, k) => k < i && overlaps(o.net, sn.net));
    if (other)
      report(
        at,
        "scenario-cidr-overlap",
        `subnet ${sn.name} (${sn.prefix}) overlaps subnet ${other.name} (${other.prefix})`,
      );
    if (subnets.findIndex((o) => o.name === sn.name) < i)
      report(["vnet", "subnets", i, "name"], "scenario-duplicate", `subnet name ${sn.name} is used twice`);
    if (sn.net.prefix > 29)
      report(
        at,
        "scenario-subnet-size",
        `subnet ${sn.name} (${sn.prefix}) is smaller than Azure's smallest subnet, a /29`,
      );
  });

  const nodeSubnet = subnets.find((sn) => sn.name === c.subnet);
  if (!nodeSubnet)
    report(
      ["cluster", "subnet"],
      "scenario-subnet",
      `cluster.subnet ${c.subnet} is not a subnet of the VNet (${subnets.map((x) => x.name).join(", ")})`,
    );
  else {
    // Azure CNI (node subnet) takes 1 + maxPods addresses per node (AKSE IPAddressCount = 1 + --max-pods).
    const need = c.nodeCount * (c.maxPods + 1);
    const usable = 2 ** (32 - nodeSubnet.net.prefix) - 5;
    if (need > usable)
      report(
        ["cluster", "nodeCount"],
        "scenario-subnet-size",
        `subnet ${nodeSubnet.name} (${nodeSubnet.prefix}) has ${usable} usable addresses, but ${c.nodeCount} node(s) × (maxPods ${c.maxPods} + 1) need ${need}`,
      );
  }

  const svc = net4(c.serviceCidr)!;
  const svcClash = subnets.find((sn) => overlaps(sn.net, svc));
  if (svcClash)
    report(
      ["cluster", "serviceCidr"],
      "scenario-cidr-overlap",
      `cluster.serviceCidr ${c.serviceCidr} overlaps subnet ${svcClash.name} (${svcClash.prefix})`,
    );
  // AKS's own 2019 managed VNet (10.0.0.0/8) held the default 10.0.0.0/16 service range (docs/azure.md §6).
  else if (!legacy && vnets.some((v) => overlaps(v, svc)))
    report(
      ["cluster", "serviceCidr"],
      "scenario-cidr-overlap",
      `cluster.serviceCidr ${c.serviceCidr} overlaps the VNet's address space ${s.vnet.addressPrefixes.join(", ")}`,
    );

  const dns = parseIpv4(c.dnsServiceIp)!;
  if (!contains(svc, dns))
    report(
      ["cluster", "dnsServiceIp"],
      "scenario-dns-ip",
      `cluster.dnsServiceIp ${c.dnsServiceIp} is outside cluster.serviceCidr ${c.serviceCidr}`,
    );
  else if (dns === svc.addr || dns === svc.addr + 1 || dns === last(svc))
    report(
      ["cluster", "dnsServiceIp"],
      "scenario-dns-ip",
      `cluster.dnsServiceIp ${c.dnsServiceIp} is the network, broadcast or kubernetes service address (${formatIpv4(svc.addr + 1)}) of ${c.serviceCidr}`,
    );

  if (c.dockerBridgeCidr !== null) {
    const at = ["cluster", "dockerBridgeCidr"];
    const bridge = net4(c.dockerBridgeCidr)!;
    if (!legacy)
      report(
        at,
        "scenario-docker-bridge",
        `cluster.dockerBridgeCidr must be null for Kubernetes ${c.kubernetesVersion}: nodes run containerd from 1.19 on, without docker0`,
      );
    else if (vnets.some((v) => overlaps(v, bridge)))
      report(
        at,
        "scenario-cidr-overlap",
        `cluster.dockerBridgeCidr ${c.dockerBridgeCidr} overlaps the VNet's address space ${s.vnet.addressPrefixes.join(", ")}`,
      );
    else if (overlaps(bridge, svc))
      report(
        at,
        "scenario-cidr-overlap",
        `cluster.dockerBridgeCidr ${c.dockerBridgeCidr} overlaps cluster.serviceCidr ${c.serviceCidr}`,
      );
  }

  checkHosts(s, subnets, vnets, report);
  if (nodeSubnet) checkPinnedAddresses(s, nodeSubnet, svc, report);
}

function checkHosts(
  s: Scenario,
  subnets: { name: string; prefix: string; net: Net4 }[],
  vnets: Net4[],
  report: Report,
): void {
  s.hosts.forEach((h, i) => {
    const ip = parseIpv4(h.ip)!;
    if (s.hosts.findIndex((o) => o.name === h.name) < i)
      report(["hosts", i, "name"], "scenario-duplicate", `host name ${h.name} is used twice`);
    if (h.kind === "internet") {
      if (vnets.some((v) => contains(v, ip)))
        report(
          ["hosts", i, "ip"],
          "scenario-host",
          `host ${h.name} is on the internet but its IP ${h.ip} is inside the VNet (give it subnet: NAME)`,
        );
      return;
    }
    const sn = subnets.find((x) => x.name === h.subnet);
    if (!sn)
      report(
        ["hosts", i, "subnet"],
        "scenario-host",
        `host ${h.name}: subnet ${h.subnet ?? "(none)"} is not a subnet of the VNet`,
      );
    else if (!contains(sn.net, ip) || azureReserved(sn.net, ip))
      report(
        ["hosts", i, "ip"],
        "scenario-host",
        `host ${h.name}: ${h.ip} is not a usable address of subnet ${sn.name} (${sn.prefix}; Azure keeps the first four and the last)`,
      );
  });
}

function checkPinnedAddresses(
  s: Scenario,
  subnet: { name: string; prefix: string; net: Net4 },
  svc: Net4,
  report: Report,
): void {
  const p = s.pins;
  const taken = new Map<string, string>();
  const claim = (ip: string, what: string, path: readonly PathSegment[]) => {
    const before = taken.get(ip);
    if (before) report(path, "scenario-duplicate", `${what} ${ip} is already ${before}`);
    else taken.set(ip, what);
  };
  const inSubnet = (ip: string, what: string, path: readonly PathSegment[]) => {
    const a = parseIpv4(ip)!;
    if (!contains(subnet.net, a) || azureReserved(subnet.net, a))
      report(
        path,
        "scenario-pin-ip",
        `${what} ${ip} is not a usable address of the node subnet ${subnet.name} (${subnet.prefix})`,
      );
  };
  if ((p.nodes?.length ?? 0) > s.cluster.nodeCount)
    report(
      ["pins", "nodes"],
      "scenario-pin",
      `pins.nodes lists ${p.nodes?.length} nodes but cluster.nodeCount is ${s.cluster.nodeCount}`,
    );
  p.nodes?.forEach((n, i) => {
    if (n.ip === undefined) return;
    inSubnet(n.ip, `pinned node IP`, ["pins", "nodes", i, "ip"]);
    claim(n.ip, `pinned node IP`, ["pins", "nodes", i, "ip"]);
  });
  p.pods?.forEach((pod, i) => {
    if (pod.ip === undefined) return;
    inSubnet(pod.ip, `pinned pod IP`, ["pins", "pods", i, "ip"]);
    claim(pod.ip, `pod ${pod.name ?? pod.owner}'s pinned IP`, ["pins", "pods", i, "ip"]);
  });
  const dnsIp = s.cluster.dnsServiceIp;
  for (const [key, ip] of Object.entries(p.clusterIps ?? {})) {
    const at = ["pins", "clusterIps", key];
    if (!contains(svc, parseIpv4(ip)!))
      report(
        at,
        "scenario-pin-ip",
        `pinned cluster IP ${ip} of ${key} is outside cluster.serviceCidr ${s.cluster.serviceCidr}`,
      );
    else if (ip === dnsIp && key !== "kube-system/kube-dns")
      report(
        at,
        "scenario-pin-ip",
        `pinned cluster IP ${ip} of ${key} is cluster.dnsServiceIp, kube-dns's address`,
      );
    else claim(ip, `the cluster IP of ${key}`, at);
  }
}
