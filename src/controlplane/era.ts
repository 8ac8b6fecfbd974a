/**
 * What changes with the cluster's Kubernetes version (see docs/kube-proxy.md §5.6 and
 * docs/azure.md §9): the kube-proxy rule layout, the Azure API/CLI generation, docker against
 * containerd, the system workloads AKS runs.
 */
export interface Era {
  /** kube-proxy's iptables layout: KUBE-FW/KUBE-XLB (up to 1.18 in our model) or KUBE-EXT/KUBE-SVL. */
  readonly layout: "1.11" | "current";
  readonly azureApi: "2019" | "today";
  /** Nodes run docker (docker0, dockershim containers) before 1.19; containerd from 1.19. */
  readonly docker: boolean;
}

/** Parses `1.11.5` (or `v1.11.5`, `1.30`) into [major, minor, patch]; null if it is not a version. */
export function parseVersion(text: string): [number, number, number] | null {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

export function eraOf(version: string): Era {
  const v = parseVersion(version);
  if (!v) throw new Error(`Cannot use Kubernetes version "${version}": expected MAJOR.MINOR[.PATCH]`);
  const minor = v[0] === 1 ? v[1] : 99;
  // Unnamed-port names lost their colon in 1.19 (kube-proxy.md §2); the KUBE-EXT layout came in
  // 1.24 — between them our model keeps the 1.11 layout with the new port-name spelling.
  return {
    layout: minor < 24 ? "1.11" : "current",
    azureApi: minor < 19 ? "2019" : "today",
    docker: minor < 19,
  };
}
