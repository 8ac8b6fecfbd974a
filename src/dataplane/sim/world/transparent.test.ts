import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIpv4, parseIpv4 } from "../../../core/ip.ts";
import type { Twin } from "../../../model/twin.ts";
import { aksToday, withRules } from "./testdata/twins.ts";
import { placeFor, walkPaths } from "./walk-paths.ts";
import { World } from "./world.ts";

/**
 * Azure CNI's transparent mode (aks-today): a pod's address has a /32 route to its azv veth, so a
 * connection DNATed to a pod leaves by that veth, and FORWARD and POSTROUTING see `-o azv...`
 * (ip_rcv_finish routes the destination PREROUTING's DNAT left). Each node gets rules that drop
 * what heads for one of its pods by any other device: a walk given the out interface of the
 * destination before DNAT (eth0, the default route of a VIP or a cluster IP) is dropped by them.
 */

const ip = (s: string): number => parseIpv4(s)!;

/** The host-side veth of every pod on every node: `-d POD ! -o VETH -j DROP` in filter FORWARD and mangle POSTROUTING. */
function guarded(twin: Twin): { twin: Twin; veths: Map<string, string> } {
  const world = new World(twin, { seed: 1, start: 0 });
  const veths = new Map<string, string>();
  let out = twin;
  for (const [node, stack] of world.nodes) {
    const rules: string[] = [];
    for (const [pod, l3] of stack.pods) {
      const veth = stack.peerOf(pod, "eth0")?.iface.name;
      const addr = l3.addresses().find((a) => a >>> 24 !== 127);
      if (!veth || addr === undefined) continue;
      veths.set(formatIpv4(addr), veth);
      rules.push(`-A FORWARD -d ${formatIpv4(addr)}/32 ! -o ${veth} -j DROP`);
    }
    out = withRules(out, node, "filter", rules);
    out = withRules(
      out,
      node,
      "mangle",
      rules.map((r) => r.replace("-A FORWARD", "-A POSTROUTING")),
    );
  }
  return { twin: out, veths };
}

describe("transparent mode: the route is chosen after DNAT", () => {
  const base = aksToday();
  const { twin, veths } = guarded(base);
  const service = (name: string) => twin.k8s.services.find((s) => s.meta.name === name)!;

  it("the laptop's connection to the LoadBalancer VIP reaches every pod by its veth, on every path", () => {
    const laptop = placeFor(twin, "laptop")!;
    const vip = ip(service("web-cluster").loadBalancerIngress[0]!);
    const { paths } = walkPaths(twin, {
      from: laptop.place,
      ip: laptop.ip,
      sport: 50123,
      to: { ip: vip, port: 80 },
      proto: "tcp",
      seed: 5,
    });
    assert.equal(paths.length, 3);
    for (const p of paths) {
      assert.equal(
        p.outcome,
        "completed",
        `path to ${formatIpv4(p.request.delivered?.frame.packet.dst as number)}`,
      );
      const pod = formatIpv4(p.request.delivered!.frame.packet.dst as number);
      // The last hop out of a node is the pod's own veth.
      const out = p.request.hops.filter((h) => h.where.kind === "node" && h.direction === "out").at(-1)!;
      assert.equal(out.iface, veths.get(pod));
      // The netfilter hop that sent it there was given that interface by the routing decision.
      const nf = p.request.hops.filter((h) => h.steps.length > 0).at(-1)!;
      assert.match(nf.steps.map((s) => s.text()).join("\n"), new RegExp(`out via ${veths.get(pod)}`));
    }
  });

  it("a pod's connection to a ClusterIP reaches every endpoint, the one on its own node by its veth", () => {
    const from = twin.k8s.pods.find((p) => p.meta.name.startsWith("web-"))!;
    const client = placeFor(twin, from.meta.name)!;
    const svc = service("web-internal");
    const { paths } = walkPaths(twin, {
      from: client.place,
      ip: client.ip,
      sport: 40321,
      to: { ip: ip(svc.clusterIP), port: 8080 },
      proto: "tcp",
      seed: 5,
    });
    const reached = paths.map((p) => formatIpv4(p.request.delivered!.frame.packet.dst as number)).sort();
    const web = twin.k8s.pods.filter((p) => p.meta.name.startsWith("web-")).map((p) => p.podIP);
    assert.deepEqual(reached, [...web].sort());
    for (const p of paths) assert.equal(p.outcome, "completed");
  });

  it("without the guard rules the same walk is unchanged (the rules drop nothing they should not)", () => {
    const laptop = placeFor(base, "laptop")!;
    const vip = ip(service("web-cluster").loadBalancerIngress[0]!);
    const req = {
      from: laptop.place,
      ip: laptop.ip,
      sport: 50123,
      to: { ip: vip, port: 80 },
      proto: "tcp" as const,
      seed: 5,
    };
    const a = walkPaths(base, req).paths.map((p) => p.request.hops.map((h) => `${h.iface} ${h.verdict}`));
    const b = walkPaths(twin, req).paths.map((p) => p.request.hops.map((h) => `${h.iface} ${h.verdict}`));
    assert.deepEqual(b, a);
  });
});
