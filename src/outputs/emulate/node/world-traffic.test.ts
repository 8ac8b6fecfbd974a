import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTwin } from "../../../controlplane/build-twin.ts";
import { seedCluster } from "../../../controlplane/testdata/seed-scenario.ts";
import { HOST_PROFILES } from "../../../dataplane/sim/endpoints/os-profile.ts";
import { withRules } from "../../../dataplane/sim/world/testdata/twins.ts";
import { HOST_OS } from "../../../inputs/scenario/schema.ts";
import type { HostOs, OutsideHost } from "../../../model/scenario.ts";
import { runOnNode } from "./run-on-node.ts";
import { browseThrough, curlThrough, trafficWorld } from "./world-traffic.ts";

const NODE = "aks-nodepool1-31351229-0";

describe("an outside host's stack (hosts[].os)", () => {
  it("each stack a scenario may name is the simulator's profile of that name", () => {
    assert.deepEqual(Object.keys(HOST_PROFILES).sort(), [...HOST_OS].sort());
    for (const [os, profile] of Object.entries(HOST_PROFILES)) assert.equal(profile.name, os);
  });

  /** The laptop's SYN and its first ACK, as the node's eth0 saw them, with the laptop running `os`. */
  function handshakeFrom(os: HostOs | undefined): string[] {
    const twin = buildTwin({
      ...seedCluster,
      hosts: seedCluster.hosts.map((h): OutsideHost => (h.name === "laptop" && os ? { ...h, os } : h)),
    });
    const start = twin.now * 1_000_000;
    const world = trafficWorld(twin, 11, start);
    const c = curlThrough(world, "laptop", "http://51.144.176.251/", start + 1_000_000, 5);
    assert.equal(c.result.exitCode, 0, c.result.stderr);
    const r = runOnNode(twin, NODE, "tcpdump -n -i eth0 port 80 and src host 109.125.120.58", {
      world,
      nowUs: c.end,
    });
    return r.stdout.split("\n").slice(0, 2);
  }

  it("shapes the client's SYN and window: the corporate network clamps the MSS (seed lines 283 and 384)", () => {
    const [homeSyn, homeAck] = handshakeFrom(undefined);
    assert.match(
      homeSyn!,
      /Flags \[S\], seq \d+, win 64240, options \[mss 1420,nop,wscale 8,nop,nop,sackOK\]/,
    );
    assert.match(homeAck!, /Flags \[\.\], ack \d+, win 515,/);
    const [corpSyn, corpAck] = handshakeFrom("windows-10-corpnet");
    assert.match(
      corpSyn!,
      /Flags \[S\], seq \d+, win 64240, options \[mss 1300,nop,wscale 8,nop,nop,sackOK\]/,
    );
    assert.match(corpAck!, /Flags \[\.\], ack \d+, win 512,/);
    // A Linux client offers timestamps and its own window.
    const [linuxSyn] = handshakeFrom("linux-4.x");
    assert.match(
      linuxSyn!,
      /Flags \[S\], seq \d+, win 29200, options \[mss 1460,sackOK,TS val \d+ ecr 0,nop,wscale 7\]/,
    );
  });
});

describe("curl and a browser through the World", () => {
  const twin = buildTwin(seedCluster);
  const start = twin.now * 1_000_000;

  it("curl: an ICMP host or net unreachable for its SYN is curl's `No route to host` / `Network is unreachable`, exit 7", () => {
    for (const [code, why] of [
      ["icmp-host-unreachable", "No route to host"],
      ["icmp-net-unreachable", "Network is unreachable"],
      ["icmp-port-unreachable", "Connection refused"],
    ] as const) {
      const rejecting = withRules(twin, NODE, "filter", [
        `-A INPUT -p tcp --dport 10250 -j REJECT --reject-with ${code}`,
      ]);
      const world = trafficWorld(rejecting, 11, start);
      const c = curlThrough(world, "testvm", "http://10.13.76.4:10250/", start + 1_000_000, 5);
      assert.equal(c.result.stderr, `curl: (7) Failed to connect to 10.13.76.4 port 10250: ${why}\n`);
      assert.equal(c.result.exitCode, 7);
    }
  });

  it("browse prints the page and ends when it has loaded; its connections go on as the World's clock moves", () => {
    const world = trafficWorld(twin, 11, start);
    const b = browseThrough(world, "laptop", "http://51.144.176.251/", start + 1_000_000, 5);
    assert.equal(b.result.exitCode, 0);
    assert.match(b.result.stdout, /<li>Remote address: 10\.13\.76\.4<\/li>/);
    const conntrack = (nowUs: number) =>
      runOnNode(twin, NODE, "conntrack -L -d 51.144.176.251", { world, nowUs }).stdout.match(
        /ESTABLISHED|CLOSE_WAIT|TIME_WAIT|LAST_ACK/g,
      );
    assert.deepEqual(conntrack(b.end), ["ESTABLISHED", "ESTABLISHED"]);
    world.advance(b.end + 10_000_000);
    assert.deepEqual(conntrack(b.end + 10_000_000), ["CLOSE_WAIT", "CLOSE_WAIT"]);
    // Like curl, an address nothing answers for fails as curl says it.
    const none = browseThrough(trafficWorld(twin, 11, start), "laptop", "http://10.99.0.1/", start, 5);
    assert.equal(none.result.exitCode, 7);
  });
});
