import { parseIpv4 } from "../../../core/ip.ts";
import type { Frame, TcpOption } from "../../../model/frame.ts";
import { makePacket, PROTO, TCP } from "../../../model/packet.ts";
import { destUnreachable, UNREACH } from "../../../dataplane/sim/endpoints/icmp.ts";
import { rewriteQuote } from "../../../dataplane/sim/endpoints/quote.ts";
import { resetFor } from "../../../dataplane/sim/endpoints/tcp-connection.ts";

/**
 * Frames for the pcap and tcpdump tests: the seed's Azure probe exchange on eth0 (seed lines
 * 283-289: handshake, HTTP GET, response with FIN, close), the start of the laptop's flow (lines
 * 296-298), a DNS query and answer, a ping, and a few flows the filters must tell apart.
 */

const NODE_MAC = "00:0d:3a:2b:3c:4d";
const GW_MAC = "12:34:56:78:9a:bc";
const POD_MAC = "ee:af:f8:66:59:bd";

function ip(text: string): number {
  const v = parseIpv4(text);
  if (v === null) throw new Error(text);
  return v;
}

/** Microseconds since the epoch of a UTC wall-clock time on the seed's first capture day. */
export function at(hh: number, mm: number, ss: number, us: number): number {
  return Date.UTC(2019, 0, 20, hh, mm, ss) * 1000 + us;
}

const enc = new TextEncoder();

/** Text padded with filler to exactly `length` bytes (the seed's lengths, our own bytes). */
function sized(head: string, tail: string, length: number): Uint8Array {
  const fill = length - head.length - tail.length;
  if (fill < 0) throw new Error("sized: too long");
  return enc.encode(head + "x".repeat(fill) + tail);
}

interface TcpSpec {
  time: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  flags: number;
  seq: number;
  ack: number;
  win: number;
  options?: TcpOption[];
  payload?: Uint8Array;
  ipId?: number;
  ttl?: number;
  outbound?: boolean;
}

function tcp(s: TcpSpec): Frame {
  const payload = s.payload ?? new Uint8Array(0);
  const options = s.options ?? [];
  const optLen = Math.ceil(options.reduce((n, o) => n + optionSize(o), 0) / 4) * 4;
  return {
    time: s.time,
    srcMac: s.outbound ? NODE_MAC : GW_MAC,
    dstMac: s.outbound ? GW_MAC : NODE_MAC,
    ipId: s.ipId ?? 0,
    ttl: s.ttl ?? 64,
    dontFragment: true,
    packet: makePacket({
      family: 4,
      proto: PROTO.tcp,
      src: ip(s.src),
      dst: ip(s.dst),
      sport: s.sport,
      dport: s.dport,
      tcpFlags: s.flags,
      length: 40 + optLen + payload.length,
    }),
    tcp: { seq: s.seq >>> 0, ack: s.ack >>> 0, window: s.win, options },
    payload,
  };
}

function optionSize(o: TcpOption): number {
  return { nop: 1, mss: 4, wscale: 3, sackOK: 2, timestamp: 10 }[o.kind];
}

const ts = (value: number, echo: number): TcpOption => ({ kind: "timestamp", value, echo });
const nop: TcpOption = { kind: "nop" };
const { SYN, ACK, PSH, FIN } = TCP;

/** Seed lines 283-289: the Azure probe from 168.63.129.16 fetching the goal state over HTTP. */
export function probeExchange(): Frame[] {
  const node = "10.13.76.4";
  const wire = "168.63.129.16";
  const c = 2243581835; // client ISN
  const s = 3358221709; // server ISN
  const get = sized(
    "GET /machine/?comp=goalstate HTTP/1.1\r\nx-ms-agent-name: WALinuxAgent\r\nUser-Agent: ",
    "\r\nHost: 168.63.129.16\r\n\r\n",
    198,
  );
  const ok = sized("HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\n\r\n<GoalState>", "</GoalState>", 2391);
  const out = { src: node, sport: 50358, dst: wire, dport: 80, outbound: true } as const;
  const back = { src: wire, sport: 80, dst: node, dport: 50358 } as const;
  return [
    tcp({
      ...out,
      time: at(23, 38, 56, 6768),
      flags: SYN,
      seq: c,
      ack: 0,
      win: 29200,
      ipId: 41000,
      options: [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, ts(1927742031, 0), nop, { kind: "wscale", value: 7 }],
    }),
    tcp({
      ...back,
      time: at(23, 38, 56, 7231),
      flags: SYN | ACK,
      seq: s,
      ack: c + 1,
      win: 8192,
      ttl: 128,
      ipId: 1234,
      options: [
        { kind: "mss", value: 1460 },
        nop,
        { kind: "wscale", value: 8 },
        { kind: "sackOK" },
        ts(560363995, 1927742031),
      ],
    }),
    tcp({ ...out, time: at(23, 38, 56, 7265), flags: ACK, seq: c + 1, ack: s + 1, win: 229, ipId: 41001, options: [nop, nop, ts(1927742031, 560363995)] }),
    tcp({ ...out, time: at(23, 38, 56, 7307), flags: PSH | ACK, seq: c + 1, ack: s + 1, win: 229, ipId: 41002, options: [nop, nop, ts(1927742031, 560363995)], payload: get }),
    tcp({ ...back, time: at(23, 38, 56, 8010), flags: FIN | PSH | ACK, seq: s + 1, ack: c + 199, win: 1026, ttl: 128, ipId: 1235, options: [nop, nop, ts(560363996, 1927742031)], payload: ok }),
    tcp({ ...out, time: at(23, 38, 56, 8102), flags: ACK, seq: c + 199, ack: s + 2393, win: 266, ipId: 41003, options: [nop, nop, ts(1927742032, 560363996)] }),
    tcp({ ...out, time: at(23, 38, 56, 8521), flags: FIN | ACK, seq: c + 199, ack: s + 2393, win: 266, ipId: 41004, options: [nop, nop, ts(1927742032, 560363996)] }),
  ];
}

/** Seed lines 296-298: the laptop's handshake to the public IP, received on eth0 (floating IP). */
export function laptopHandshake(): Frame[] {
  const laptop = "109.125.120.58";
  const vip = "51.144.176.251";
  const c = 1755954558;
  const s = 1844749018;
  return [
    tcp({
      time: at(23, 40, 31, 788475),
      src: laptop,
      sport: 62538,
      dst: vip,
      dport: 80,
      flags: SYN,
      seq: c,
      ack: 0,
      win: 64240,
      ttl: 116,
      ipId: 7001,
      options: [{ kind: "mss", value: 1420 }, nop, { kind: "wscale", value: 8 }, nop, nop, { kind: "sackOK" }],
    }),
    tcp({
      time: at(23, 40, 31, 788549),
      src: vip,
      sport: 80,
      dst: laptop,
      dport: 62538,
      flags: SYN | ACK,
      seq: s,
      ack: c + 1,
      win: 29200,
      outbound: true,
      options: [{ kind: "mss", value: 1460 }, nop, nop, { kind: "sackOK" }, nop, { kind: "wscale", value: 7 }],
    }),
    tcp({ time: at(23, 40, 31, 820718), src: laptop, sport: 62538, dst: vip, dport: 80, flags: ACK, seq: c + 1, ack: s + 1, win: 515, ttl: 116, ipId: 7002 }),
  ];
}

/** A DNS message: header, one question, optional A answers (RFC 1035 §4.1). */
export function dnsMessage(id: number, name: string, answers: readonly string[]): Uint8Array {
  const q: number[] = [];
  for (const label of name.split(".")) q.push(label.length, ...enc.encode(label));
  q.push(0, 0, 1, 0, 1); // root, QTYPE A, QCLASS IN
  const response = answers.length > 0;
  const head = [id >> 8, id & 255, response ? 0x81 : 0x01, response ? 0x80 : 0x00, 0, 1, 0, answers.length, 0, 0, 0, 0];
  const rrs: number[] = [];
  for (const a of answers) {
    const v = ip(a);
    // Name as a pointer to the question (offset 12), type A, class IN, TTL 300, 4 bytes of address.
    rrs.push(0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  }
  return Uint8Array.from([...head, ...q, ...rrs]);
}

function udp(time: number, src: string, sport: number, dst: string, dport: number, payload: Uint8Array): Frame {
  return {
    time,
    srcMac: NODE_MAC,
    dstMac: GW_MAC,
    ipId: 5000 + (time % 1000),
    ttl: 64,
    dontFragment: false,
    packet: makePacket({ family: 4, proto: PROTO.udp, src: ip(src), dst: ip(dst), sport, dport, length: 28 + payload.length }),
    tcp: null,
    payload,
  };
}

function icmpEcho(time: number, src: string, dst: string, type: 0 | 8, id: number, seq: number): Frame {
  const payload = Uint8Array.from({ length: 56 }, (_, i) => i & 255);
  return {
    time,
    srcMac: type === 8 ? NODE_MAC : POD_MAC,
    dstMac: type === 8 ? POD_MAC : NODE_MAC,
    ipId: 9000 + seq,
    ttl: 64,
    dontFragment: true,
    packet: makePacket({ family: 4, proto: PROTO.icmp, src: ip(src), dst: ip(dst), icmpType: type, icmpCode: 0, icmpId: id, length: 84 }),
    tcp: null,
    icmpSeq: seq,
    payload,
  };
}

/** Everything above plus DNS, ping, IMDS, HTTPS and a UDP packet to port 80, in time order. */
export function mixedCapture(): Frame[] {
  const frames = [
    ...probeExchange(),
    ...laptopHandshake(),
    udp(at(23, 41, 0, 100), "10.13.76.4", 40001, "168.63.129.16", 53, dnsMessage(0x1a2b, "www.example.com", [])),
    udp(at(23, 41, 0, 900), "168.63.129.16", 53, "10.13.76.4", 40001, dnsMessage(0x1a2b, "www.example.com", ["93.184.216.34"])),
    icmpEcho(at(23, 41, 1, 0), "10.13.76.4", "10.13.76.26", 8, 3011, 1),
    icmpEcho(at(23, 41, 1, 49), "10.13.76.26", "10.13.76.4", 0, 3011, 1),
    tcp({ time: at(23, 41, 2, 0), src: "10.13.76.26", sport: 41522, dst: "169.254.169.254", dport: 80, flags: SYN, seq: 1000, ack: 0, win: 64240, outbound: true, options: [{ kind: "mss", value: 1460 }] }),
    tcp({ time: at(23, 41, 3, 0), src: "10.13.76.30", sport: 80, dst: "167.220.197.180", dport: 13829, flags: SYN | ACK, seq: 218333007, ack: 3186291511, win: 29200, outbound: true }),
    tcp({ time: at(23, 41, 4, 0), src: "10.13.76.4", sport: 51000, dst: "13.93.66.174", dport: 443, flags: SYN, seq: 77, ack: 0, win: 29200, outbound: true, options: [{ kind: "mss", value: 1460 }, { kind: "sackOK" }] }), // 6 option bytes: padded with eol
    udp(at(23, 41, 5, 0), "10.13.76.4", 80, "10.13.77.9", 9999, enc.encode("udp from port 80")),
  ];
  return frames.sort((a, b) => a.time - b.time);
}

/**
 * What the kernels of the twin send back instead of an answer, built by the data plane's own
 * functions (endpoints/icmp.ts destUnreachable, quote.ts rewriteQuote, tcp-connection.ts resetFor):
 * ICMP destination unreachable errors of every code REJECT sends, quoting TCP, UDP (DNS, and one too
 * long to quote whole) and ICMP, one NATed back the way conntrack does it, with the TOS Linux gives
 * its errors (0xc0); a REJECT's TCP reset; and a segment with ECN bits in its TOS.
 */
export function icmpErrorCapture(): Frame[] {
  const retype = (f: Frame, icmpType: number, icmpCode: number): Frame => ({
    ...f,
    packet: { ...f.packet, icmpType, icmpCode },
  });
  const node = "10.13.76.4";
  const laptop = "109.125.120.58";
  const vip = "51.144.176.251";
  const pod = "10.13.76.26";
  const error = (offending: Frame, code: number, src: string, time: number, quotedTtl = offending.ttl) =>
    destUnreachable(offending, code, { src: ip(src), ttl: 64, ipId: 4000 + (time % 1000), time }, quotedTtl);
  // A Linux client's SYN to the VIP (20 option bytes: the quote is 60 bytes), DNATed to the pod and
  // refused in FORWARD (TTL already decremented); conntrack puts the VIP back into the quote.
  const syn = tcp({
    time: at(23, 42, 0, 0),
    src: laptop,
    sport: 51535,
    dst: vip,
    dport: 80,
    flags: SYN,
    seq: 4000000000,
    ack: 0,
    win: 64240,
    ttl: 52,
    ipId: 321,
    options: [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, ts(123456, 0), nop, { kind: "wscale", value: 7 }],
  });
  const dnatted = { ...syn, packet: { ...syn.packet, dst: ip(pod) } };
  const refused = error(dnatted, UNREACH.PORT, node, at(23, 42, 0, 60), 51);
  const natBack = { ...refused, payload: rewriteQuote(refused.payload, syn.packet) };
  // A DNS query to a ClusterIP without endpoints (kube-proxy's REJECT), from a pod.
  const query = udp(at(23, 42, 1, 0), pod, 40002, "10.0.0.10", 53, dnsMessage(0x2b3c, "whereami.default.svc.cluster.local", []));
  // A datagram too long to quote whole: Linux quotes 548 bytes of its 1228.
  const big = udp(at(23, 42, 2, 0), node, 40003, pod, 9999, new Uint8Array(1200).fill(0x61));
  // A ping refused with REJECT's default icmp-port-unreachable: the quoted "port" is the echo's checksum field.
  const ping = icmpEcho(at(23, 42, 3, 0), pod, "10.0.0.1", 8, 4242, 7);
  const get = tcp({
    time: at(23, 42, 4, 0),
    src: pod,
    sport: 40004,
    dst: "10.13.76.7",
    dport: 80,
    flags: PSH | ACK,
    seq: 555,
    ack: 777,
    win: 502,
    outbound: true,
    payload: enc.encode("GET / HTTP/1.1\r\nHost: 10.13.76.26\r\nUser-Agent: curl/7.81.0\r\nAccept: */*\r\n\r\n"),
  });
  // A request too long to quote whole, to the other port tcpdump reads as HTTP (8080).
  const longGet = tcp({
    time: at(23, 42, 4, 500),
    src: pod,
    sport: 40006,
    dst: "10.0.140.69",
    dport: 8080,
    flags: PSH | ACK,
    seq: 1,
    ack: 1,
    win: 502,
    outbound: true,
    payload: enc.encode(`GET /${"a".repeat(600)} HTTP/1.1\r\nHost: web-internal:8080\r\n\r\n`),
  });
  const rst = resetFor(syn, at(23, 42, 5, 0), { mac: NODE_MAC, ttl: 64 });
  if (!rst) throw new Error("no RST for the SYN");
  const ecn = tcp({ ...{ time: at(23, 42, 6, 0), src: node, sport: 40005, dst: pod, dport: 8080 }, flags: SYN | 64 | 128, seq: 9, ack: 0, win: 64240, outbound: true });
  return [
    syn,
    natBack,
    query,
    error(query, UNREACH.PORT, node, at(23, 42, 1, 40)),
    big,
    error(big, UNREACH.PORT, pod, at(23, 42, 2, 50)),
    ping,
    error(ping, UNREACH.PORT, node, at(23, 42, 3, 30)),
    error(query, UNREACH.NET, node, at(23, 42, 3, 100)),
    error(query, UNREACH.HOST, node, at(23, 42, 3, 200)),
    error(query, UNREACH.PROTOCOL, node, at(23, 42, 3, 300)),
    error(query, UNREACH.NET_PROHIBITED, node, at(23, 42, 3, 400)),
    error(query, UNREACH.HOST_PROHIBITED, node, at(23, 42, 3, 500)),
    error(query, UNREACH.ADMIN_PROHIBITED, node, at(23, 42, 3, 600)),
    get,
    error(get, UNREACH.HOST, node, at(23, 42, 4, 70)),
    longGet,
    error(longGet, UNREACH.PORT, node, at(23, 42, 4, 570)),
    // Types and codes the twin does not send, for the printer: time exceeded, fragmentation needed.
    retype(error(query, 0, node, at(23, 42, 4, 600)), 11, 0),
    retype(error(query, 0, node, at(23, 42, 4, 700)), 3, 4),
    rst,
    { ...ecn, tos: 0x02 },
  ];
}
