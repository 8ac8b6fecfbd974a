import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SEED_TEXT } from "../../../../test/support/seed.ts";
import { formatIpv4, parseIpv4 } from "../../../core/ip.ts";
import { seededRng } from "../../../core/rng.ts";
import type { Frame } from "../../../model/frame.ts";
import { makePacket, TCP } from "../../../model/packet.ts";
import { goalStateRequest } from "../world/guest-agent.ts";
import { nginxApp } from "./apps/nginx.ts";
import { whereamiApp, whereamiRemoteAddress } from "./apps/whereami.ts";
import { wireServerApp } from "./apps/wireserver.ts";
import { type ClientSpec, type Deliver, exchange, type ServerSpec, startExchange } from "./exchange.ts";
import { browserRequest, curlRequest, parseResponse } from "./http.ts";
import {
  AZURE_WIRESERVER,
  LINUX_2019,
  LINUX_CURRENT,
  type OsProfile,
  WINDOWS_CORPNET,
  WINDOWS_LAPTOP,
} from "./os-profile.ts";
import { text } from "./segment.ts";

const ip = (s: string): number => parseIpv4(s)!;
const T0 = Date.UTC(2019, 0, 22, 23, 40, 31) * 1000;

/**
 * tcpdump's one-line TCP summary (print-tcp.c): absolute numbers on SYNs, then seq/ack relative to
 * each direction's ISN; `seq` shown with data or SYN/FIN/RST, `ack` with the ACK flag.
 */
function tcpdumpLines(frames: readonly Frame[]): string[] {
  const isn = new Map<string, number>();
  return frames.map((f) => {
    const p = f.packet;
    const t = f.tcp!;
    const me = `${p.src}:${p.sport}`;
    const peer = `${p.dst}:${p.dport}`;
    if (p.tcpFlags & TCP.SYN) isn.set(me, t.seq);
    const fl = p.tcpFlags;
    let flags = "";
    if (fl & TCP.FIN) flags += "F";
    if (fl & TCP.SYN) flags += "S";
    if (fl & TCP.RST) flags += "R";
    if (fl & TCP.PSH) flags += "P";
    if (fl & TCP.ACK) flags += ".";
    const rel = (x: number, base: number | undefined): number => (base === undefined ? x : (x - base) >>> 0);
    const synOrRst = (fl & (TCP.SYN | TCP.RST)) !== 0;
    const seq = synOrRst ? t.seq : rel(t.seq, isn.get(me));
    let s = `IP ${formatIpv4(p.src as number)}.${p.sport} > ${formatIpv4(p.dst as number)}.${p.dport}: Flags [${flags}]`;
    if (f.payload.length > 0) s += `, seq ${seq}:${seq + f.payload.length}`;
    else if (fl & (TCP.SYN | TCP.FIN | TCP.RST)) s += `, seq ${seq}`;
    if (fl & TCP.ACK) s += `, ack ${fl & TCP.SYN || !isn.has(peer) ? t.ack : rel(t.ack, isn.get(peer))}`;
    s += `, win ${t.window}`;
    const opts = t.options.map((o) =>
      o.kind === "mss"
        ? `mss ${o.value}`
        : o.kind === "wscale"
          ? `wscale ${o.value}`
          : o.kind === "timestamp"
            ? `TS val ${o.value} ecr ${o.echo}`
            : o.kind,
    );
    if (opts.length) s += `, options [${opts.join(",")}]`;
    return `${s}, length ${f.payload.length}`;
  });
}

/** Sequence numbers and timestamps differ run to run in the seed too: blank the absolute ones. */
const normalise = (line: string): string =>
  line.replace(/^\d\d:\d\d:\d\d\.\d+ /, "").replace(/\b(seq|ack|val|ecr) \d{6,}/g, "$1 N");

function seedLines(from: string, count: number): string[] {
  const lines = SEED_TEXT.split("\n");
  const i = lines.findIndex((l) => l.includes(from) && l.includes("Flags [S]"));
  assert.ok(i >= 0, `seed capture starting with ${from}`);
  return lines.slice(i, i + count).map(normalise);
}

const server = (addr: string, profile: OsProfile = LINUX_2019): ServerSpec => ({
  addresses: [ip(addr)],
  mac: "ee:af:f8:66:59:bd",
  profile,
  listeners: new Map([
    [
      80,
      whereamiApp({
        name: "whereami-564765b89-j7bpw",
        ip: ip(addr),
        kernelRelease: "4.15.0-1036-azure",
        kernelVersion: "#38~16.04.1-Ubuntu SMP",
        publicIp: "51.144.176.251",
      }),
    ],
  ]),
});

const laptop = (profile: OsProfile = WINDOWS_LAPTOP, more: Partial<ClientSpec> = {}): ClientSpec => ({
  ip: ip("109.125.120.58"),
  port: 62538,
  mac: "12:34:56:78:9a:bc",
  profile,
  ...more,
});

const sent = (r: ReturnType<typeof exchange>): Frame[] => r.steps.map((s) => s.sent);

describe("exchange: the seed's handshakes with a direct deliver", () => {
  it("laptop to the VIP on the node (seed lines 283-285: DSR keeps the VIP)", () => {
    const r = exchange(laptop(), server("51.144.176.251"), browserRequest("51.144.176.251"), {
      to: { ip: ip("51.144.176.251"), port: 80 },
      now: T0,
      rng: seededRng(7),
    });
    assert.deepEqual(
      tcpdumpLines(sent(r)).slice(0, 3).map(normalise),
      seedLines("109.125.120.58.62538 >", 3),
    );
    // The SYN-ACK acknowledges the client's ISN + 1, as in the seed.
    const [syn, synAck] = sent(r);
    assert.equal(synAck!.tcp!.ack, (syn!.tcp!.seq + 1) >>> 0);
  });

  it("corporate laptop to the pod under Local (seed lines 384-386)", () => {
    const c = laptop(WINDOWS_CORPNET, { ip: ip("167.220.197.180"), port: 13829 });
    const r = exchange(c, server("10.13.76.30"), browserRequest("13.93.66.174"), {
      to: { ip: ip("10.13.76.30"), port: 80 },
      now: T0,
      rng: seededRng(8),
    });
    assert.deepEqual(
      tcpdumpLines(sent(r)).slice(0, 3).map(normalise),
      seedLines("167.220.197.180.13829 >", 3),
    );
  });

  it("the node's own connection with timestamps to the wire server (seed lines 281-283)", () => {
    const node: ClientSpec = {
      ip: ip("10.13.76.4"),
      port: 50358,
      mac: "00:0d:3a:2a:6e:ad",
      profile: LINUX_2019,
    };
    const r = exchange(
      node,
      server("168.63.129.16", AZURE_WIRESERVER),
      curlRequest("168.63.129.16", 80, "/"),
      {
        to: { ip: ip("168.63.129.16"), port: 80 },
        now: T0,
        rng: seededRng(9),
      },
    );
    const ours = tcpdumpLines(sent(r))
      .slice(0, 3)
      .map(normalise)
      .map((l) => l.replace(".80:", ".http:").replace(".80 >", ".http >"));
    assert.deepEqual(ours, seedLines("10.13.76.4.50358 >", 3));
    // Timestamps echo each other: the SYN-ACK's ecr is the SYN's val, the ACK's ecr the SYN-ACK's val.
    const ts = (f: Frame) =>
      f.tcp!.options.find((o) => o.kind === "timestamp") as { value: number; echo: number };
    const [syn, synAck, ack] = sent(r);
    assert.equal(ts(synAck!).echo, ts(syn!).value);
    assert.equal(ts(ack!).echo, ts(synAck!).value);
  });

  it("the guest agent's goal-state fetch: the seed's seven packets (lines 281-287)", () => {
    // The node's NIC merges the wire server's two segments (GRO), FIN riding on the last: one [FP.]
    // of 2391 bytes; the node's window grows from 229 to 266 once they are in.
    const node: ClientSpec = {
      ip: ip("10.13.76.4"),
      port: 50358,
      mac: "00:0d:3a:2a:6e:ad",
      profile: LINUX_2019,
      gro: true,
    };
    const wire: ServerSpec = {
      addresses: [ip("168.63.129.16")],
      mac: "12:34:56:78:9a:bc",
      profile: AZURE_WIRESERVER,
      listeners: new Map([[80, wireServerApp(() => ({ name: "aks-nodepool1-31351229-0" }))]]),
    };
    const r = exchange(node, wire, goalStateRequest("2.2.34"), {
      to: { ip: ip("168.63.129.16"), port: 80 },
      now: T0,
      rng: seededRng(9),
    });
    assert.equal(r.outcome, "completed");
    const delivered = r.steps.flatMap((s) => (s.delivered ? [s.delivered] : []));
    const http = (l: string) => l.replace(".80:", ".http:").replace(".80 >", ".http >");
    const ours = tcpdumpLines(delivered).slice(0, 7).map(normalise).map(http);
    const seed = seedLines("10.13.76.4.50358 >", 7).map((l) => l.replace(/: HTTP.*$/, ""));
    assert.deepEqual(ours, seed);
    assert.equal(parseResponse(r.client.received)?.status, 200);
  });

  it("is deterministic for a seed and differs across seeds", () => {
    const run = (seed: number) =>
      tcpdumpLines(
        sent(
          exchange(laptop(), server("10.13.76.7"), browserRequest("x"), {
            to: { ip: ip("10.13.76.7"), port: 80 },
            now: T0,
            rng: seededRng(seed),
          }),
        ),
      );
    assert.deepEqual(run(1), run(1));
    assert.notDeepEqual(run(1)[0], run(2)[0]);
  });
});

describe("exchange: whereami and what the server saw", () => {
  it("answers with the client's address as its socket saw it", () => {
    const r = exchange(laptop(), server("10.13.76.30"), browserRequest("13.93.66.174"), {
      to: { ip: ip("10.13.76.30"), port: 80 },
      now: T0,
      rng: seededRng(3),
    });
    assert.equal(r.outcome, "completed");
    const res = parseResponse(r.client.received)!;
    assert.equal(res.status, 200);
    assert.equal(whereamiRemoteAddress(res.body), "109.125.120.58");
    assert.match(res.body, /Private IP address: 10\.13\.76\.30</);
    assert.match(res.body, /<h1>whereami-564765b89-j7bpw<\/h1>/);
    assert.equal(text(r.server.received), browserRequest("13.93.66.174"));
  });

  it("an SNAT in deliver (Cluster policy: masquerade to the node IP) shows in the page", () => {
    const node = { ip: ip("10.13.76.4"), port: 51535 };
    const vip = { ip: ip("51.144.176.251"), port: 80 };
    const pod = { ip: ip("10.13.76.7"), port: 80 };
    const c = laptop();
    // DNAT VIP -> pod and SNAT laptop -> node toward the pod; the reverse on the way back.
    const deliver: Deliver = (f, toward) => {
      const p = f.packet;
      const packet =
        toward === "server"
          ? { ...p, src: node.ip, sport: node.port, dst: pod.ip, dport: pod.port }
          : { ...p, src: vip.ip, sport: vip.port, dst: c.ip, dport: c.port };
      return { ...f, packet: makePacket(packet) };
    };
    const r = exchange(c, server("10.13.76.7"), browserRequest("51.144.176.251"), {
      to: vip,
      now: T0,
      rng: seededRng(4),
      deliver,
    });
    assert.equal(r.outcome, "completed");
    assert.deepEqual(r.server.saw, node);
    assert.deepEqual(r.client.saw, vip);
    assert.equal(whereamiRemoteAddress(parseResponse(r.client.received)!.body), "10.13.76.4");
  });

  it("a reply that skips the reverse NAT gets a reset from the client, which keeps retrying its SYN", () => {
    const vip = { ip: ip("51.144.176.251"), port: 80 };
    const deliver: Deliver = (f, toward) =>
      toward === "server" ? { ...f, packet: makePacket({ ...f.packet, dst: ip("10.13.76.7") }) } : f;
    const r = exchange(laptop(), server("10.13.76.7"), browserRequest("x"), {
      to: vip,
      now: T0,
      rng: seededRng(5),
      deliver,
    });
    assert.equal(r.outcome, "timeout");
    const rsts = r.steps.filter((s) => s.from === "client" && s.sent.packet.tcpFlags & TCP.RST);
    const syns = r.steps.filter((s) => s.from === "client" && s.sent.packet.tcpFlags === TCP.SYN);
    assert.equal(syns.length, 1 + WINDOWS_LAPTOP.synRetransmitsUs.length);
    assert.equal(rsts.length, syns.length);
    // RFC 793: the reset for an unexpected SYN-ACK takes its sequence number from that segment's ACK.
    const firstSynAck = r.steps.find((s) => s.from === "server")!.sent;
    assert.equal(rsts[0]!.sent.tcp!.seq, firstSynAck.tcp!.ack);
    assert.equal(r.client.state, "CLOSED");
  });
});

describe("exchange: the state machine", () => {
  it("curl closes first: client TIME_WAIT, server CLOSED, FIN carrying the server's ACK", () => {
    const c: ClientSpec = {
      ip: ip("10.13.76.4"),
      port: 40000,
      mac: "00:0d:3a:00:00:01",
      profile: LINUX_2019,
    };
    const nginx: ServerSpec = { ...server("10.13.76.7"), listeners: new Map([[80, nginxApp()]]) };
    const r = exchange(c, nginx, curlRequest("10.13.76.7", 80, "/"), {
      to: { ip: ip("10.13.76.7"), port: 80 },
      now: T0,
      rng: seededRng(11),
    });
    assert.equal(r.outcome, "completed");
    assert.equal(r.client.state, "TIME_WAIT");
    assert.equal(r.server.state, "CLOSED");
    // Linux: quick ACK of the request, response, quick ACK, FIN, FIN+ACK together, last ACK.
    const flags = tcpdumpLines(sent(r)).map((l) => /Flags \[([^\]]*)\]/.exec(l)?.[1]);
    assert.deepEqual(flags, ["S", "S.", ".", "P.", ".", "P.", ".", "F.", "F.", "."]);
    const last = sent(r).at(-1)!;
    assert.equal(r.client.timeWaitUntil, last.time - LINUX_2019.stackDelayUs + LINUX_2019.timeWaitUs);
  });

  it("the seed's browser: the server's keep-alive timeout closes, the browser stays in CLOSE_WAIT", () => {
    const c = laptop(WINDOWS_LAPTOP, { closeAfterResponse: false, closeOnPeerFin: false });
    const r = exchange(c, server("10.13.76.7"), browserRequest("51.144.176.251"), {
      to: { ip: ip("10.13.76.7"), port: 80 },
      now: T0,
      rng: seededRng(12),
    });
    assert.equal(r.client.state, "CLOSE_WAIT");
    assert.equal(r.server.state, "FIN_WAIT_2");
    const fin = r.steps.find((s) => s.sent.packet.tcpFlags & TCP.FIN)!;
    assert.equal(fin.from, "server");
    const response = r.steps.filter((s) => s.from === "server" && s.sent.payload.length > 0).at(-1)!;
    assert.equal(fin.sent.time - response.sent.time, 5_000_000); // httpd KeepAliveTimeout 5
  });

  it("a run moved forward by its caller: idle while kept open, a second request on the same socket", () => {
    const c = laptop(WINDOWS_LAPTOP, { closeAfterResponse: false, closeOnPeerFin: false });
    const answers: number[] = [];
    const run = startExchange(c, server("10.13.76.7"), browserRequest("x"), {
      to: { ip: ip("10.13.76.7"), port: 80 },
      now: T0,
      rng: seededRng(19),
      onResponse: (_bytes, at) => answers.push(at),
    });
    assert.equal(run.nextTime(), T0);
    run.runUntil(T0 + 1_000_000);
    assert.equal(run.result().outcome, "completed");
    assert.equal(run.clientState(), "ESTABLISHED");
    assert.equal(answers.length, 1);
    // What is left is httpd's keep-alive timeout, 5 s after its answer came (deliver is direct).
    run.runUntil(answers[0]! + 1_000_000);
    assert.equal(run.nextTime(), answers[0]! + 5_000_000);
    // Another request before it: the timeout counts again from the second answer.
    run.request(browserRequest("x", "/missing"), T0 + 2_000_000);
    run.runUntil();
    assert.equal(run.nextTime(), null);
    const r = run.result();
    assert.deepEqual(
      r.responses.map((x) => parseResponse(x.bytes)?.status),
      [200, 404],
    );
    assert.equal(r.client.state, "CLOSE_WAIT");
    const fin = r.steps.find((s) => s.sent.packet.tcpFlags & TCP.FIN)!;
    const last = r.steps.filter((s) => s.from === "server" && s.sent.payload.length > 0).at(-1)!;
    assert.equal(fin.sent.time - last.sent.time, 5_000_000);
    assert.ok(fin.sent.time > T0 + 7_000_000);
  });

  it("a browser's preconnected socket: the handshake, then nothing until it is handed a request", () => {
    const c = laptop(WINDOWS_LAPTOP, { closeAfterResponse: false, closeOnPeerFin: false });
    const run = startExchange(c, server("10.13.76.7"), "", {
      to: { ip: ip("10.13.76.7"), port: 80 },
      now: T0,
      rng: seededRng(20),
    });
    run.runUntil(T0 + 3_000_000);
    assert.equal(run.clientState(), "ESTABLISHED");
    assert.equal(run.result().steps.length, 3);
    assert.equal(run.nextTime(), null);
    run.request(browserRequest("x"), T0 + 3_000_000);
    run.runUntil(T0 + 4_000_000);
    assert.equal(run.result().responses.length, 1);
    assert.equal(run.clientState(), "ESTABLISHED");
  });

  it("stops mid-way at `until` with both sides ESTABLISHED", () => {
    const r = exchange(laptop(), server("10.13.76.7"), browserRequest("x"), {
      to: { ip: ip("10.13.76.7"), port: 80 },
      now: T0,
      rng: seededRng(13),
      until: T0 + 1000,
    });
    assert.equal(r.outcome, "stopped");
    assert.equal(r.client.state, "ESTABLISHED");
    assert.equal(r.server.state, "ESTABLISHED");
  });

  it("a closed port answers the SYN with RST,ACK: seq 0, ack ISN+1, win 0", () => {
    const r = exchange(laptop(), server("10.13.76.7"), browserRequest("x"), {
      to: { ip: ip("10.13.76.7"), port: 8080 },
      now: T0,
      rng: seededRng(14),
    });
    assert.equal(r.outcome, "refused");
    const [syn, rst] = sent(r);
    assert.equal(rst!.packet.tcpFlags, TCP.RST | TCP.ACK);
    assert.deepEqual([rst!.tcp!.seq, rst!.tcp!.ack, rst!.tcp!.window], [0, (syn!.tcp!.seq + 1) >>> 0, 0]);
    assert.equal(r.client.state, "CLOSED");
    assert.equal(r.steps.length, 2);
  });

  it("a dropped SYN is retransmitted on Linux's schedule (1, 3, 7 … 63 s) then times out at 127 s", () => {
    const c: ClientSpec = { ip: ip("10.13.76.4"), port: 40001, mac: "m", profile: LINUX_CURRENT };
    const r = exchange(c, server("10.13.76.7"), curlRequest("x", 80, "/"), {
      to: { ip: ip("10.13.76.7"), port: 80 },
      now: T0,
      rng: seededRng(15),
      deliver: () => null,
    });
    assert.equal(r.outcome, "timeout");
    assert.deepEqual(
      r.steps.map((s) => (s.sent.time - T0) / 1e6),
      [0, 1, 3, 7, 15, 31, 63],
    );
    assert.equal((r.end - T0) / 1e6, 127);
    assert.ok(r.steps.every((s) => s.delivered === null && s.sent.tcp!.seq === r.steps[0]!.sent.tcp!.seq));
  });

  it("a response lost on the way back leaves the exchange stalled", () => {
    const deliver: Deliver = (f, toward) => (toward === "client" && f.payload.length > 0 ? null : f);
    const r = exchange(laptop(), server("10.13.76.7"), browserRequest("x"), {
      to: { ip: ip("10.13.76.7"), port: 80 },
      now: T0,
      rng: seededRng(16),
      deliver,
    });
    assert.equal(r.outcome, "stalled");
    assert.equal(r.client.received.length, 0);
  });

  it("an empty request is a TCP probe: handshake then the four-way close", () => {
    const probe: ClientSpec = { ip: ip("168.63.129.16"), port: 55000, mac: "m", profile: LINUX_2019 };
    const r = exchange(probe, server("10.13.76.4"), "", {
      to: { ip: ip("10.13.76.4"), port: 80 },
      now: T0,
      rng: seededRng(17),
    });
    assert.equal(r.outcome, "completed");
    const flags = sent(r).map((f) => f.packet.tcpFlags);
    assert.deepEqual(flags, [
      TCP.SYN,
      TCP.SYN | TCP.ACK,
      TCP.ACK,
      TCP.FIN | TCP.ACK,
      TCP.FIN | TCP.ACK,
      TCP.ACK,
    ]);
    assert.equal(r.client.state, "TIME_WAIT");
    assert.equal(r.server.state, "CLOSED");
  });

  it("segments a response at the MSS less the timestamp option", () => {
    const c: ClientSpec = { ip: ip("10.13.76.4"), port: 40002, mac: "m", profile: LINUX_CURRENT };
    const r = exchange(c, server("10.13.76.7", LINUX_CURRENT), curlRequest("x", 80, "/"), {
      to: { ip: ip("10.13.76.7"), port: 80 },
      now: T0,
      rng: seededRng(18),
    });
    const data = r.steps.filter((s) => s.from === "server" && s.sent.payload.length > 0).map((s) => s.sent);
    assert.ok(data.length >= 2);
    assert.equal(data[0]!.payload.length, 1448);
    assert.equal(data[0]!.packet.length, 20 + 32 + 1448);
    assert.equal(data.at(-1)!.packet.tcpFlags, TCP.PSH | TCP.ACK);
    assert.equal(data[0]!.packet.tcpFlags, TCP.ACK);
    // Current Linux: SYN 64240, SYN-ACK with timestamps 65160, established windows 502 / 510.
    const [syn, synAck, ack] = sent(r);
    assert.deepEqual([syn!.tcp!.window, synAck!.tcp!.window, ack!.tcp!.window], [64240, 65160, 502]);
  });
});
