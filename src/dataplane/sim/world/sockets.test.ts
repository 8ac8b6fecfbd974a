import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTwin } from "../../../controlplane/build-twin.ts";
import { seedCluster } from "../../../controlplane/testdata/seed-scenario.ts";
import { formatIpv4 } from "../../../core/ip.ts";
import { PROTO, TCP } from "../../../model/packet.ts";
import type { Twin } from "../../../model/twin.ts";
import { datagramBytes, parseQuote } from "../endpoints/quote.ts";
import { type SockAddr, udpFrame, utf8 } from "../endpoints/segment.ts";
import { ip, tcpTo } from "./testdata/traffic.ts";
import { aksToday, manifest } from "./testdata/twins.ts";
import type { Place } from "./types.ts";
import { World } from "./world.ts";

/**
 * Each namespace of the twin answers for its own sockets: a SYN to a port nothing listens on there
 * is reset by that namespace's kernel (tcp_v4_send_reset), a datagram to a closed UDP port gets an
 * ICMP port unreachable (__udp4_lib_rcv); the listeners are the twin's (NodeState.listeners, the
 * pods' containers, kube-proxy's health servers).
 */

const SEED_NODE = "aks-nodepool1-31351229-0";

function udp(w: World, from: Place, src: SockAddr, dst: SockAddr, time: number) {
  const f = udpFrame(
    { time, srcMac: w.macOf(from), dstMac: "12:34:56:78:9a:bc", ipId: 7, ttl: 64, dontFragment: true },
    src,
    dst,
    utf8("ping?\n"),
  );
  return { frame: f, sent: w.send(f, from) };
}

const podOf = (twin: Twin, prefix: string) => twin.k8s.pods.find((p) => p.meta.name.startsWith(prefix))!;
const placeOfPod = (twin: Twin, prefix: string): Place => {
  const p = podOf(twin, prefix);
  return { kind: "pod", node: p.nodeName, pod: `${p.meta.namespace}/${p.meta.name}` };
};

describe("TCP: a closed port is reset by the namespace's own kernel", () => {
  const twin = buildTwin(seedCluster);
  const start = twin.now * 1_000_000;

  it("a SYN to a whereami pod's port 8080 gets RST|ACK, seq 0, ack = seq + 1, from the pod", () => {
    const w = new World(twin, { seed: 1, start });
    const c = tcpTo(w, { kind: "node", node: SEED_NODE }, "10.13.76.26", 8080, 40100, start + 1_000_000);
    assert.equal(c.result.outcome, "refused");
    assert.equal(c.result.error, "ECONNREFUSED");
    const syn = c.result.steps[0]!.sent;
    const back = c.result.steps.find((s) => s.from === "server")!;
    const rst = back.sent;
    assert.equal(rst.packet.tcpFlags, TCP.RST | TCP.ACK);
    assert.equal(rst.tcp!.seq, 0);
    assert.equal(rst.tcp!.ack, (syn.tcp!.seq + 1) >>> 0);
    assert.equal(formatIpv4(rst.packet.src as number), "10.13.76.26");
    // Sent from the pod's namespace, out of its eth0.
    const walk = c.sends[1]!;
    assert.deepEqual(walk.hops[0]!.where, {
      kind: "pod",
      node: SEED_NODE,
      pod: "default/whereami-564765b89-qfq2k",
    });
    assert.equal(walk.delivered?.at.kind, "node");
  });

  it("the whereami pods' own port 80 still answers", () => {
    const w = new World(twin, { seed: 1, start });
    const c = tcpTo(w, { kind: "node", node: SEED_NODE }, "10.13.76.26", 80, 40101, start + 1_000_000);
    assert.equal(c.result.outcome, "completed");
    assert.match(new TextDecoder().decode(c.result.client.received), /^HTTP\/1\.1 200 OK\r\n/);
  });
});

describe("TCP listeners per namespace (aks-today)", () => {
  const twin = aksToday();
  const start = twin.now * 1_000_000;
  const node = twin.nodes[0]!;

  it("a port one pod listens on is closed in another pod (metrics-server's 4443 on a web pod)", () => {
    const w = new World(twin, { seed: 1, start });
    const web = podOf(twin, "web-");
    const metrics = podOf(twin, "metrics-server-");
    const from: Place = { kind: "node", node: node.name };
    assert.equal(tcpTo(w, from, web.podIP, 4443, 40200, start + 1_000_000).result.outcome, "refused");
    assert.equal(tcpTo(w, from, metrics.podIP, 4443, 40201, start + 2_000_000).result.outcome, "completed");
  });

  it("the node's sshd (0.0.0.0:22) accepts a pod's connection; the kubelet's 127.0.0.1:10248 refuses it", () => {
    const w = new World(twin, { seed: 1, start });
    const pod = placeOfPod(twin, "web-");
    const host = twin.nodes.find((n) => n.name === (pod as { node: string }).node)!;
    const ssh = tcpTo(w, pod, host.ip, 22, 40300, start + 1_000_000, { until: start + 3_000_000 });
    assert.equal(ssh.result.client.state, "ESTABLISHED");
    assert.equal(ssh.result.server.app, "sshd");
    const kubelet = tcpTo(w, pod, host.ip, 10248, 40301, start + 4_000_000);
    assert.equal(kubelet.result.outcome, "refused");
  });

  it("the node reaches its own kubelet on 127.0.0.1:10248 (loopback is its own namespace)", () => {
    const w = new World(twin, { seed: 1, start });
    const c = tcpTo(w, { kind: "node", node: node.name }, "127.0.0.1", 10248, 40400, start + 1_000_000, {
      until: start + 2_000_000,
    });
    assert.equal(c.result.client.state, "ESTABLISHED");
    assert.equal(c.result.server.app, "kubelet");
  });
});

describe("UDP: a closed port answers ICMP port unreachable", () => {
  const twin = aksToday(
    manifest(`apiVersion: v1
kind: Service
metadata:
  name: udp9000
spec:
  ports:
  - port: 9000
    protocol: UDP
  selector:
    app: web`),
  );
  const start = twin.now * 1_000_000;
  const node = twin.nodes[0]!;
  const from: Place = { kind: "node", node: node.name };
  const nodeAddr = { ip: ip(node.ip), port: 41000 };

  it("a datagram to a pod's closed port: the pod's kernel answers from the address it was sent to, quoting it", () => {
    const w = new World(twin, { seed: 1, start });
    const web = podOf(twin, "web-");
    const { frame, sent } = udp(w, from, nodeAddr, { ip: ip(web.podIP), port: 9999 }, start + 1_000_000);
    assert.equal(sent.delivered?.at.kind, "pod");
    assert.equal(sent.answers.length, 1);
    const got = sent.answers[0]!.delivered!;
    assert.deepEqual(got.at, from);
    const p = got.frame.packet;
    assert.deepEqual([p.proto, p.icmpType, p.icmpCode], [PROTO.icmp, 3, 3]);
    assert.equal(formatIpv4(p.src as number), web.podIP);
    // The datagram as the pod received it (one hop: TTL 63).
    assert.deepEqual(got.frame.payload, datagramBytes(sent.delivered!.frame));
    assert.equal(sent.delivered!.frame.ttl, frame.ttl - 1);
  });

  it("a datagram to CoreDNS's port 53 is not answered by the kernel", () => {
    const w = new World(twin, { seed: 1, start });
    const dns = podOf(twin, "coredns-");
    const { sent } = udp(w, from, nodeAddr, { ip: ip(dns.podIP), port: 53 }, start + 1_000_000);
    assert.equal(sent.delivered?.at.kind, "pod");
    assert.deepEqual(sent.answers, []);
  });

  it("through a ClusterIP: the node's NAT turns the error back into one from the service, quoting what the client sent", () => {
    const w = new World(twin, { seed: 1, start });
    const svc = twin.k8s.services.find((s) => s.meta.name === "udp9000")!;
    const pod = placeOfPod(twin, "coredns-");
    const podIp = ip(podOf(twin, "coredns-").podIP);
    const src = { ip: podIp, port: 41001 };
    const { sent } = udp(w, pod, src, { ip: ip(svc.clusterIP), port: 9000 }, start + 1_000_000);
    // DNATed to a web pod that has no socket on 9000.
    assert.equal(sent.delivered?.at.kind, "pod");
    const answer = sent.answers[0]!;
    const got = answer.delivered!;
    assert.deepEqual(got.at, pod);
    assert.equal(formatIpv4(got.frame.packet.src as number), svc.clusterIP);
    const q = parseQuote(got.frame.payload)!.packet;
    assert.deepEqual(
      [formatIpv4(q.src as number), q.sport, formatIpv4(q.dst as number), q.dport],
      [formatIpv4(podIp), 41001, svc.clusterIP, 9000],
    );
    // Related to the datagram's entry on the client's node (nf_conntrack_icmpv4_error).
    const clientNode = (pod as { node: string }).node;
    const related = answer.hops.filter(
      (h) => h.where.kind === "node" && h.where.node === clientNode && h.ctState,
    );
    assert.ok(related.length > 0 && related.every((h) => h.ctState === "RELATED"));
    // After NAT the quote is byte for byte the client's own datagram (at the TTL it arrived with):
    // addresses, ports and both checksums were adjusted together.
    const original = sent.hops[0]!.before;
    const ttl = got.frame.payload[8]!;
    assert.ok(ttl < original.ttl);
    assert.deepEqual(got.frame.payload, datagramBytes(original, ttl));
  });

  it("a socket that sent from a port is bound to it: a datagram back to it is not refused", () => {
    const w = new World(twin, { seed: 1, start });
    const web = podOf(twin, "web-");
    const pod = placeOfPod(twin, "web-");
    udp(w, pod, { ip: ip(web.podIP), port: 45000 }, { ip: ip(node.ip), port: 45000 }, start + 1_000_000);
    const { sent } = udp(
      w,
      from,
      { ip: ip(node.ip), port: 45000 },
      { ip: ip(web.podIP), port: 45000 },
      start + 2_000_000,
    );
    assert.equal(sent.delivered?.at.kind, "pod");
    assert.deepEqual(sent.answers, []);
  });
});
