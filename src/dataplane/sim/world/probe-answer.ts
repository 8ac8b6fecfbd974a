import { parseIpv4 } from "../../../core/ip.ts";
import { seededRng } from "../../../core/rng.ts";
import { parseResponse } from "../endpoints/http.ts";
import { AZURE_WIRESERVER } from "../endpoints/os-profile.ts";
import type { ProbeFn } from "../fabric/probes.ts";
import { connect } from "./connect.ts";
import type { World } from "./world.ts";

/**
 * The LB's health probes answered by the twin itself: from 168.63.129.16 into the node's NIC, through
 * its netfilter (a node port is DNATed to a pod, a health check port reaches kube-proxy's server).
 * Tcp: up when the handshake completes; Http: up on a 200 (AZDOC `load-balancer-custom-probe-overview.md`:
 * "any other status code ... marks the instance down"). Unanswered within the interval: down.
 */

/** What a probe did, for whoever narrates it. */
export interface ProbeRecord {
  readonly time: number;
  readonly nodeIp: string;
  readonly port: number;
  readonly outcome: string;
  readonly status: number | null;
  readonly result: "up" | "down";
}

export function probeAnswerer(seed: number, log?: ProbeRecord[]): (world: World) => ProbeFn {
  return (world) => {
    const rng = seededRng((seed ^ 0x5bd1e995) >>> 0);
    return (target, nowMs) => {
      const nodeIp = parseIpv4(target.nodeIp);
      if (nodeIp === null) return "down";
      // Windows' dynamic port range 49152-65535 (the wire server is a Windows stack).
      const sport = 49152 + (rng.nextU32() % 16384);
      const request =
        target.protocol === "Tcp"
          ? ""
          : `GET ${target.path ?? "/"} HTTP/1.1\r\nHost: ${target.nodeIp}:${target.port}\r\nConnection: close\r\n\r\n`;
      const now = nowMs * 1000;
      const c = connect(world, {
        from: { kind: "fabric", name: "wireserver" },
        ip: parseIpv4(target.source) as number,
        sport,
        to: { ip: nodeIp, port: target.port },
        request,
        now,
        rng,
        profile: AZURE_WIRESERVER,
        until: now + 5_000_000,
      });
      const status =
        target.protocol === "Tcp" ? null : (parseResponse(c.result.client.received)?.status ?? null);
      const up = c.result.outcome === "completed" && (target.protocol === "Tcp" || status === 200);
      log?.push({
        time: nowMs,
        nodeIp: target.nodeIp,
        port: target.port,
        outcome: c.result.outcome,
        status,
        result: up ? "up" : "down",
      });
      return up ? "up" : "down";
    };
  };
}
