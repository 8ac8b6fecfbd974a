import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SEED_TEXT } from "../../../../../test/support/seed.ts";
import { parseIpv4 } from "../../../../core/ip.ts";
import { seededRng } from "../../../../core/rng.ts";
import { PROTO } from "../../../../model/packet.ts";
import { goalStateRequest } from "../../world/guest-agent.ts";
import type { TcpApp } from "../app.ts";
import { answerAddresses, DNS_TYPE, dnsQuery, dnsServe, parseDnsQuery } from "../dns.ts";
import { exchange } from "../exchange.ts";
import { curlRequest, httpDate, parseResponse } from "../http.ts";
import { echoReply, echoRequest, ICMP } from "../icmp.ts";
import { LINUX_2019 } from "../os-profile.ts";
import { udpFrame, utf8 } from "../segment.ts";
import { goTime, proxyHealthzApp, serviceHealthApp, serviceHealthBody } from "./kube-proxy-health.ts";
import { NGINX_1_15_8, NGINX_1_27_4, nginxApp, nginxDefaultPage } from "./nginx.ts";
import { goalStateXml, vmIdentity, wireServerApp } from "./wireserver.ts";

const ip = (s: string): number => parseIpv4(s)!;
const NODE = ip("10.13.76.4");
const LOCALHOST = ip("127.0.0.1");
const T0 = Date.UTC(2019, 0, 22, 23, 40, 31) * 1000 + 123456;

/** `curl localhost:PORT/PATH` on the node, as a real TCP exchange over lo. */
function curlOnNode(app: TcpApp, port: number, path: string, now = T0) {
  const r = exchange(
    { ip: LOCALHOST, port: 45000, mac: "00:00:00:00:00:00", profile: LINUX_2019 },
    {
      addresses: [NODE, LOCALHOST],
      mac: "00:00:00:00:00:00",
      profile: LINUX_2019,
      listeners: new Map([[port, app]]),
    },
    curlRequest("localhost", port, path),
    { to: { ip: LOCALHOST, port }, now, rng: seededRng(1) },
  );
  assert.equal(r.outcome, "completed");
  return parseResponse(r.client.received)!;
}

/** Terminal tab stops every 8 columns, as the seed's pasted output has them. */
function expandTabs(s: string): string {
  return s
    .split("\n")
    .map((line) => {
      let out = "";
      for (const ch of line) out += ch === "\t" ? " ".repeat(8 - (out.length % 8)) : ch;
      return out;
    })
    .join("\n");
}

/** The lines the seed prints after `curl localhost:PORT/healthz`, up to the closing brace (its web page
 * pasted the indentation as no-break spaces, so those count as spaces). */
function seedCurl(port: number): string {
  const lines = SEED_TEXT.split("\n");
  const at = lines.findIndex((l) => l.endsWith(`curl localhost:${port}/healthz`));
  assert.ok(at >= 0);
  const end = lines.indexOf("}", at);
  return lines
    .slice(at + 1, end + 1)
    .join("\n")
    .replaceAll("\u00a0", " ");
}

describe("kube-proxy's service health check", () => {
  const whereami = { namespace: "default", name: "whereami", localEndpoints: 2 };

  it("answers the seed's `curl localhost:32364/healthz` (lines 455-461), tab-indented, no final newline", () => {
    const res = curlOnNode(
      serviceHealthApp(() => whereami, "1.11"),
      32364,
      "/healthz",
    );
    assert.equal(res.status, 200);
    assert.equal(expandTabs(res.body), seedCurl(32364));
    assert.ok(res.body.includes('\t\t"name": "whereami"'));
    assert.ok(!res.body.endsWith("\n"));
  });

  it("and the nginx one (`curl localhost:31322/healthz`)", () => {
    const nginx = { namespace: "default", name: "nginx", localEndpoints: 2 };
    const res = curlOnNode(
      serviceHealthApp(() => nginx, "1.11"),
      31322,
      "/anything",
    );
    assert.equal(expandTabs(res.body), seedCurl(31322));
  });

  it("writes Go's headers: the handler's sorted, then Date from the virtual clock and Content-Length", () => {
    const old = curlOnNode(
      serviceHealthApp(() => whereami, "1.11"),
      32364,
      "/healthz",
    );
    assert.deepEqual(
      old.headers.map(([k]) => k),
      ["content-type", "date", "content-length"],
    );
    assert.deepEqual(old.headers[0], ["content-type", "application/json"]);
    assert.equal(old.headers[2]![1], String(old.body.length));
    assert.equal(old.headers[1]![1], "Tue, 22 Jan 2019 23:40:31 GMT");
    const now = curlOnNode(
      serviceHealthApp(() => whereami, "current"),
      32364,
      "/healthz",
    );
    assert.deepEqual(
      now.headers.map(([k]) => k),
      [
        "content-type",
        "x-content-type-options",
        "x-load-balancing-endpoint-weight",
        "date",
        "content-length",
      ],
    );
    assert.equal(now.body, serviceHealthBody(whereami, "current"));
    assert.match(now.body, /"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}$/);
  });

  it("503 without local endpoints (what takes a node out of a Local service's backends)", () => {
    const none = { ...whereami, localEndpoints: 0 };
    assert.equal(
      curlOnNode(
        serviceHealthApp(() => none, "1.11"),
        32364,
        "/healthz",
      ).status,
      503,
    );
    assert.equal(
      curlOnNode(
        serviceHealthApp(() => none, "current"),
        32364,
        "/healthz",
      ).status,
      503,
    );
    // Current kube-proxy also fails the check while the proxy itself is unhealthy.
    const sick = serviceHealthApp(
      () => whereami,
      "current",
      () => false,
    );
    const res = curlOnNode(sick, 32364, "/healthz");
    assert.equal(res.status, 503);
    assert.match(res.body, /"serviceProxyHealthy": false/);
  });
});

describe("kube-proxy's healthz on 10256", () => {
  const state = (lastUpdatedUs: number | null) => () => ({
    lastUpdatedUs,
    startedUs: T0 - 3_600_000_000,
    healthTimeoutUs: 60_000_000,
    nodeEligible: true,
  });

  it("1.11: times as Go prints them, 200 while fresh, 503 once overdue, 404 elsewhere", () => {
    // Called directly at T0 for exact times (over TCP the request arrives a few µs later).
    const reply = proxyHealthzApp(state(T0 - 10_000_000), "1.11").respond({
      bytes: utf8(curlRequest("localhost", 10256, "/healthz")),
      local: { ip: LOCALHOST, port: 10256 },
      remote: { ip: LOCALHOST, port: 45000 },
      now: T0,
    })!;
    const fresh = parseResponse(reply.bytes)!;
    assert.equal(fresh.status, 200);
    assert.equal(
      fresh.body,
      `{"lastUpdated": "2019-01-22 23:40:21.123456 +0000 UTC m=+3590.000000000",` +
        `"currentTime": "2019-01-22 23:40:31.123456 +0000 UTC m=+3600.000000000"}`,
    );
    const stale = curlOnNode(proxyHealthzApp(state(T0 - 61_000_000), "1.11"), 10256, "/healthz");
    assert.equal(stale.status, 503);
    const other = curlOnNode(proxyHealthzApp(state(T0), "1.11"), 10256, "/livez");
    assert.deepEqual([other.status, other.body], [404, "404 page not found\n"]);
  });

  it("current: nodeEligible on /healthz, /livez served", () => {
    const h = curlOnNode(proxyHealthzApp(state(T0), "current"), 10256, "/healthz");
    assert.equal(h.status, 200);
    assert.match(h.body, /,"currentTime": "[^"]+", "nodeEligible": true}$/);
    const l = curlOnNode(proxyHealthzApp(state(T0), "current"), 10256, "/livez");
    assert.equal(l.status, 200);
    assert.doesNotMatch(l.body, /nodeEligible/);
  });

  it("Go's time.Time.String trims the fraction's zeros and drops it when whole", () => {
    assert.equal(goTime(Date.UTC(2019, 0, 1) * 1000, null), "2019-01-01 00:00:00 +0000 UTC");
    assert.equal(goTime(Date.UTC(2019, 0, 1) * 1000 + 500_000, null), "2019-01-01 00:00:00.5 +0000 UTC");
  });
});

describe("nginx's default page", () => {
  it("1.15.8: 612 bytes with the image's ETag and nginx's header order", () => {
    const res = curlOnNode(nginxApp(NGINX_1_15_8), 80, "/");
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 612);
    assert.deepEqual(res.headers, [
      ["server", "nginx/1.15.8"],
      ["date", httpDate(T0)],
      ["content-type", "text/html"],
      ["content-length", "612"],
      ["last-modified", "Tue, 25 Dec 2018 09:56:47 GMT"],
      ["connection", "keep-alive"],
      ["etag", '"5c21fedf-264"'],
      ["accept-ranges", "bytes"],
    ]);
  });

  it("the color-scheme page of current builds is 615 bytes; unknown paths get 404", () => {
    assert.equal(nginxDefaultPage(NGINX_1_27_4.page).length, 615);
    assert.equal(curlOnNode(nginxApp(NGINX_1_27_4), 80, "/nope").status, 404);
  });
});

describe("UDP and ICMP answers", () => {
  it("kube-dns answers an A query for a service with its cluster IP, NXDOMAIN otherwise", () => {
    const pod = { ip: ip("10.13.76.26"), port: 53211 };
    const dns = { ip: ip("10.13.76.9"), port: 53 };
    const zone = (name: string) =>
      name === "whereami.default.svc.cluster.local" ? { addresses: [ip("10.0.159.58")], ttl: 30 } : null;
    const l2 = {
      time: T0,
      srcMac: "ee:af:f8:66:59:bd",
      dstMac: "aa:aa:aa:aa:aa:aa",
      ipId: 1,
      ttl: 64,
      dontFragment: true,
    };
    const q = udpFrame(l2, pod, dns, dnsQuery(0x1234, "whereami.default.svc.cluster.local"));
    const host = { mac: "aa:08:fc:c4:9c:f8", ttl: 64, ipId: 7, delayUs: 100 };
    const a = dnsServe(q, zone, host)!;
    assert.deepEqual(
      [a.packet.src, a.packet.sport, a.packet.dst, a.packet.dport],
      [dns.ip, 53, pod.ip, pod.port],
    );
    assert.equal(a.packet.proto, PROTO.udp);
    assert.equal(a.packet.length, 20 + 8 + a.payload.length);
    assert.equal(parseDnsQuery(q.payload)!.qtype, DNS_TYPE.A);
    assert.equal((a.payload[0]! << 8) | a.payload[1]!, 0x1234);
    assert.deepEqual(answerAddresses(a.payload), { rcode: 0, addresses: [ip("10.0.159.58")] });
    const miss = dnsServe(udpFrame(l2, pod, dns, dnsQuery(7, "nope.default.svc.cluster.local")), zone, host)!;
    assert.deepEqual(answerAddresses(miss.payload), { rcode: 3, addresses: [] });
    // Not a query (a response, or garbage): no answer.
    assert.equal(dnsServe(a, zone, host), null);
    assert.equal(dnsServe(udpFrame(l2, pod, dns, utf8("hello")), zone, host), null);
  });

  it("an echo request of 84 bytes gets a reply with the same id, sequence and data", () => {
    const req = echoRequest({ mac: "n", nextHopMac: "p", ttl: 64 }, NODE, ip("10.13.76.26"), 4242, 1, T0, 99);
    assert.equal(req.packet.length, 84);
    const rep = echoReply(req, { mac: "p", ttl: 64, ipId: 5, delayUs: 49 })!;
    assert.deepEqual(
      [rep.packet.src, rep.packet.dst, rep.packet.icmpType, rep.packet.icmpId, rep.icmpSeq, rep.ttl],
      [ip("10.13.76.26"), NODE, ICMP.ECHO_REPLY, 4242, 1, 64],
    );
    assert.equal(rep.payload, req.payload);
    assert.equal(rep.time - req.time, 49);
    assert.equal(echoReply(rep, { mac: "p", ttl: 64, ipId: 5, delayUs: 49 }), null);
  });
});

describe("Azure's wire server answering the node's guest agent", () => {
  const WIRE = ip("168.63.129.16");
  const SEED_NODE = "aks-nodepool1-31351229-0";

  /** The agent's GET from `caller`, over a real exchange (the wire server closes after answering). */
  function fetch(caller: number, path = "/machine/?comp=goalstate") {
    const request = goalStateRequest("2.2.34").replace("/machine/?comp=goalstate", path);
    const r = exchange(
      { ip: caller, port: 50358, mac: "m", profile: LINUX_2019 },
      {
        addresses: [WIRE],
        mac: "w",
        profile: LINUX_2019,
        listeners: new Map([[80, wireServerApp((a) => (a === NODE ? { name: SEED_NODE } : null))]]),
      },
      request,
      { to: { ip: WIRE, port: 80 }, now: T0, rng: seededRng(3) },
    );
    assert.equal(r.outcome, "completed");
    return r;
  }

  it("the agent's request is the seed's 198 bytes (line 284); the goal state answer its 2391 (line 285)", () => {
    assert.equal(utf8(goalStateRequest("2.2.34")).length, 198);
    const r = fetch(NODE);
    assert.equal(r.client.received.length, 2391);
    const res = parseResponse(r.client.received)!;
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers.find(([k]) => k === "content-length")?.[1]), res.body.length);
    assert.deepEqual(
      res.headers.map(([k]) => k),
      ["content-length", "content-type", "server", "x-ms-version", "date", "connection"],
    );
    assert.equal(res.headers.find(([k]) => k === "date")?.[1], httpDate(T0 + 35 + 40 + 35 + 700));
    // The agent asked to close: the wire server closes first (its FIN on the answer), so it is the
    // one left in TIME_WAIT.
    assert.equal(r.server.state, "TIME_WAIT");
    assert.equal(r.client.state, "CLOSED");
  });

  it("the goal state names the VM that asks: its instance id, percent-encoded in the config URLs", () => {
    const { containerId, vmId } = vmIdentity(SEED_NODE);
    const xml = goalStateXml(SEED_NODE);
    assert.match(xml, new RegExp(`<InstanceId>${vmId}\\._${SEED_NODE}</InstanceId>`));
    assert.match(xml, new RegExp(`<ContainerId>${containerId}</ContainerId>`));
    const encoded = `${vmId.replaceAll("-", "%2D")}.%5F${SEED_NODE.replaceAll("-", "%2D")}`;
    assert.equal(xml.split(`/machine/${containerId}/${encoded}?comp=`).length - 1, 5);
    // Another VM: other ids, and a document longer by what its name adds (in the instance id, the
    // config name and the five URLs).
    const other = "aks-nodepool1-31351229-10";
    assert.notEqual(vmIdentity(other).vmId, vmId);
    assert.equal(goalStateXml(other).length - xml.length, 7);
  });

  it("a caller that is no VM of the twin, and paths other than the goal state and versions: 404", () => {
    assert.equal(parseResponse(fetch(ip("10.99.0.1")).client.received)?.status, 404);
    assert.equal(parseResponse(fetch(NODE, "/machine?comp=health").client.received)?.status, 404);
    const versions = parseResponse(fetch(NODE, "/?comp=versions").client.received)!;
    assert.equal(versions.status, 200);
    assert.match(versions.body, /<Preferred>\n {4}<Version>2015-04-05<\/Version>/);
  });
});
