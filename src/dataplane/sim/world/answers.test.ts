import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIpv4 } from "../../../core/ip.ts";
import { PROTO, TCP } from "../../../model/packet.ts";
import type { Twin } from "../../../model/twin.ts";
import { formatConntrackList } from "../../../outputs/render/conntrack-list.ts";
import { datagramBytes, parseQuote } from "../endpoints/quote.ts";
import { ip, tcpTo } from "./testdata/traffic.ts";
import { aksToday, manifest, withRules } from "./testdata/twins.ts";
import type { Place, SendResult } from "./types.ts";
import { World } from "./world.ts";

/**
 * REJECT's answers (ipt_REJECT.c, nf_reject_ipv4.c): kube-proxy's "has no endpoints" rules send an
 * ICMP port unreachable, a `--reject-with tcp-reset` rule a RST, and the client's connect fails as
 * it would on Linux (ECONNREFUSED, "Connection refused").
 */

// A LoadBalancer service whose Deployment has no replicas: kube-proxy rejects its traffic.
const NOTHING =
  manifest(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: nothing
spec:
  replicas: 0
  selector:
    matchLabels:
      app: nothing
  template:
    metadata:
      labels:
        app: nothing
    spec:
      containers:
      - name: web
        image: nginx
        ports:
        - containerPort: 80`) +
  manifest(`apiVersion: v1
kind: Service
metadata:
  name: nothing
spec:
  type: LoadBalancer
  ports:
  - port: 80
  selector:
    app: nothing`);

function webPod(twin: Twin, w: World, nodeIndex = 0): { place: Place; ip: string; veth: string } {
  const node = twin.nodes[nodeIndex]!.name;
  const stack = w.nodes.get(node)!;
  const pod = [...stack.pods.keys()].find((p) => p.startsWith("default/web-"))!;
  const addr = stack.pods
    .get(pod)!
    .addresses()
    .find((a) => a >>> 24 !== 127)!;
  return {
    place: { kind: "pod", node, pod },
    ip: formatIpv4(addr),
    veth: stack.peerOf(pod, "eth0")!.iface.name,
  };
}

/** The first answer any of the connection's frames provoked. */
const firstAnswer = (sends: readonly SendResult[]): SendResult =>
  sends.find((s) => s.answers.length > 0)!.answers[0]!;

describe("REJECT with icmp-port-unreachable (kube-proxy: a service without endpoints)", () => {
  const twin = aksToday(NOTHING);
  const svc = twin.k8s.services.find((s) => s.meta.name === "nothing")!;
  const start = twin.now * 1_000_000;

  it("a pod's connect to the ClusterIP is refused by an ICMP error quoting its SYN, from the node", () => {
    const w = new World(twin, { seed: 3, start });
    const pod = webPod(twin, w);
    const node = twin.nodes[0]!;
    const c = tcpTo(w, pod.place, svc.clusterIP, 80, 41000, start + 1_000_000);
    assert.equal(c.result.outcome, "refused");
    assert.equal(c.result.error, "ECONNREFUSED");
    // No SYN retransmission: the error ended the connect.
    const syns = c.result.steps.filter((s) => s.from === "client" && s.sent.packet.tcpFlags === TCP.SYN);
    assert.equal(syns.length, 1);
    const syn = c.sends[0]!;
    assert.equal(syn.fate, "rejected");
    assert.match(syn.hops.at(-1)!.note, /REJECT in filter FORWARD \(--reject-with icmp-port-unreachable\)/);
    const answer = syn.answers[0]!;
    const got = answer.delivered!;
    assert.deepEqual(got.at, pod.place);
    const p = got.frame.packet;
    assert.deepEqual([p.proto, p.icmpType, p.icmpCode], [PROTO.icmp, 3, 3]);
    // The ClusterIP is not the node's: __icmp_send lets routing pick the source, the node's address.
    assert.equal(formatIpv4(p.src as number), node.ip);
    assert.equal(formatIpv4(p.dst as number), pod.ip);
    assert.equal(got.frame.ttl, 64);
    assert.equal(got.frame.dontFragment, false);
    // The quote is the SYN as FORWARD saw it: ip_forward had decremented its TTL.
    const sent = syns[0]!.sent;
    const expected = datagramBytes(sent, sent.ttl - 1);
    assert.deepEqual(got.frame.payload, expected);
    assert.equal(p.length, 20 + 8 + expected.length);
    const q = parseQuote(got.frame.payload)!;
    assert.equal(q.tcpSeq, sent.tcp!.seq);
    // nf_ct_attach: the error is RELATED to the SYN's entry, which was never confirmed.
    const nf = answer.hops.find((h) => h.steps.length > 0)!;
    assert.equal(nf.ctState, "RELATED");
    assert.equal(nf.conntrack?.orig.dst, ip(svc.clusterIP));
    const listed = formatConntrackList(
      w.nodes.get(node.name)!.conntrack.list(),
      Math.floor(start / 1000),
    ).stdout;
    assert.doesNotMatch(listed, new RegExp(`dst=${svc.clusterIP.replaceAll(".", "\\.")} `));
    // tcpdump on the pod's veth sees the SYN go in and the error come out.
    const onVeth = w.captures.get(node.name, pod.veth).frames;
    assert.ok(
      onVeth.some((f) => f.packet.proto === PROTO.tcp && f.packet.dport === 80 && f.packet.sport === 41000),
    );
    assert.ok(onVeth.some((f) => f.packet.proto === PROTO.icmp && f.packet.icmpType === 3));
  });

  it("the node's connect to its own node port is refused from the node's address (INPUT: a local destination)", () => {
    const w = new World(twin, { seed: 3, start });
    const node = twin.nodes[1]!;
    const port = svc.ports[0]!.nodePort;
    const c = tcpTo(w, { kind: "node", node: node.name }, node.ip, port, 42000, start + 1_000_000);
    assert.equal(c.result.outcome, "refused");
    const answer = firstAnswer(c.sends);
    assert.match(c.sends[0]!.hops.at(-1)!.note, /REJECT in filter INPUT/);
    assert.equal(answer.delivered?.at.kind, "node");
    // RTCF_LOCAL: the source is the address the packet was sent to.
    assert.equal(formatIpv4(answer.delivered!.frame.packet.src as number), node.ip);
    assert.equal(answer.delivered!.frame.packet.icmpCode, 3);
  });
});

describe("REJECT with tcp-reset", () => {
  const base = aksToday();
  const start = base.now * 1_000_000;

  it("another node's connect to a pod is reset by the pod's node; the RST acknowledges the SYN", () => {
    const w0 = new World(base, { seed: 3, start });
    const target = webPod(base, w0, 0);
    const twin = withRules(base, base.nodes[0]!.name, "filter", [
      `-A FORWARD -d ${target.ip}/32 -p tcp -m tcp --dport 80 -j REJECT --reject-with tcp-reset`,
    ]);
    const w = new World(twin, { seed: 3, start });
    const client = twin.nodes[1]!;
    const c = tcpTo(w, { kind: "node", node: client.name }, target.ip, 80, 43000, start + 1_000_000);
    assert.equal(c.result.outcome, "refused");
    assert.equal(c.result.error, "ECONNREFUSED");
    const syn = c.result.steps.find((s) => s.from === "client")!.sent;
    const answer = firstAnswer(c.sends);
    const rst = answer.delivered!.frame;
    assert.deepEqual(answer.delivered!.at, { kind: "node", node: client.name });
    // nf_reject_ip_tcphdr_put: a SYN without ACK gets RST|ACK, seq 0, ack = its seq + 1, window 0.
    assert.equal(rst.packet.tcpFlags, TCP.RST | TCP.ACK);
    assert.equal(rst.tcp!.seq, 0);
    assert.equal(rst.tcp!.ack, (syn.tcp!.seq + 1) >>> 0);
    assert.equal(rst.tcp!.window, 0);
    // nf_reject_iphdr_put: from the address the SYN was sent to, IP id 0, DF, the default TTL.
    assert.equal(formatIpv4(rst.packet.src as number), target.ip);
    assert.equal(rst.packet.sport, 80);
    assert.deepEqual([rst.ipId, rst.dontFragment], [0, true]);
    // Sent through the rejecting node's OUTPUT with the SYN's entry attached (RELATED).
    const nf = answer.hops.find(
      (h) => h.steps.length > 0 && h.where.kind === "node" && h.where.node === twin.nodes[0]!.name,
    )!;
    assert.equal(nf.ctState, "RELATED");
  });
});
