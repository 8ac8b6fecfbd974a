import { parseIpv4 } from "../../../core/ip.ts";
import { type Rng, seededRng } from "../../../core/rng.ts";
import { WIRESERVER_IP } from "../endpoints/apps/wireserver.ts";
import { LINUX_2019, LINUX_CURRENT } from "../endpoints/os-profile.ts";
import { openConnection } from "./connect.ts";
import type { Timed, Timeline } from "./timeline.ts";
import type { World } from "./world.ts";

/**
 * A node's Azure guest agent (WALinuxAgent) polling the wire server for its goal state over plain
 * HTTP: `GET /machine/?comp=goalstate` to 168.63.129.16:80 from the node itself, one connection each
 * time (it asks to close), as the seed's capture on eth0 shows (lines 280-286).
 *
 * How often (WALinuxAgent, azurelinuxagent/ga/update.py): the goal-state agent's main loop fetches the
 * goal state (exthandlers run → protocol.get_ext_handlers → update_goal_state) and then sleeps
 * GOAL_STATE_INTERVAL = 3 s (v2.2.32-v2.2.35, the agents of January 2019); today's agent sleeps
 * Extensions.GoalStatePeriod, default 6 s (common/conf.py). The loop's own work adds to the period:
 * the fetch takes the ~2 ms the seed's capture shows (SYN to FIN, lines 281-287).
 *
 * The request is what the agent's restutil._http_request hands Python's http.client: the request
 * line, Host and Accept-Encoding (http.client's own), then its headers: x-ms-agent-name and
 * x-ms-version (wire.py get_header), Connection: close and User-Agent `WALinuxAgent/VERSION`
 * (restutil.py). Python 3.5's dict (Ubuntu 16.04) does not keep their order; this is the order they
 * were set in. With the 2.2.34 agent of November 2018 it is the 198 bytes of the seed's line 284.
 * The agent's other calls (health reports, telemetry, the host plugin on port 32526) are not modelled.
 */

const S = 1_000_000;
/** update.py GOAL_STATE_INTERVAL (2.2.x) and conf.py Extensions.GoalStatePeriod's default (2.x today). */
const INTERVAL_2019_US = 3 * S;
const INTERVAL_TODAY_US = 6 * S;
/** The loop's fetch and bookkeeping on top of the sleep. */
const LOOP_US = 2_000;
/**
 * How far back a jump of the clock still runs the agent's polls: longer than the TIME_WAIT (120 s)
 * their conntrack entries end in, so `conntrack -L` is exact after any jump; a capture shows the
 * polls of the last three minutes before each time the clock was moved to, not of the hours a
 * `clock advance` skips (each poll is seven frames through the node's netfilter).
 */
const HORIZON_US = 180 * S;

/** The agent's version in its User-Agent: 2.2.34 in January 2019; 2.15.0.1 (November 2025) today. */
const AGENT_2019 = "2.2.34";
const AGENT_TODAY = "2.15.0.1";

export function goalStateRequest(version: string): string {
  return (
    "GET /machine/?comp=goalstate HTTP/1.1\r\n" +
    `Host: ${WIRESERVER_IP}\r\n` +
    "Accept-Encoding: identity\r\n" +
    "x-ms-agent-name: WALinuxAgent\r\n" +
    "x-ms-version: 2012-11-30\r\n" +
    "Connection: close\r\n" +
    `User-Agent: WALinuxAgent/${version}\r\n` +
    "\r\n"
  );
}

/** The agent of one node, on the world's timeline from `start` (µs). */
export function guestAgent(
  world: World,
  timeline: Timeline,
  node: string,
  start: number,
  seed: number,
): Timed {
  const legacy = world.twin.k8s.version.startsWith("1.11");
  const period = (legacy ? INTERVAL_2019_US : INTERVAL_TODAY_US) + LOOP_US;
  const request = goalStateRequest(legacy ? AGENT_2019 : AGENT_TODAY);
  const wire = parseIpv4(WIRESERVER_IP) as number;
  let h = seed >>> 0;
  for (let i = 0; i < node.length; i++) h = Math.imul(h ^ node.charCodeAt(i), 0x01000193) >>> 0;
  const rng: Rng = seededRng(h);
  // The agent started long before: where in its period the world starts is a draw.
  let next = start + (rng.nextU32() % period);
  return {
    nextTime: () => next,
    step: () => {
      const at = next;
      next += period;
      // Linux's ephemeral range, net.ipv4.ip_local_port_range 32768-60999 (the seed's 50358).
      const sport = 32768 + (rng.nextU32() % 28232);
      timeline.add(
        openConnection(world, {
          from: { kind: "node", node },
          sport,
          to: { ip: wire, port: 80 },
          request,
          now: at,
          rng,
          profile: legacy ? LINUX_2019 : LINUX_CURRENT,
        }),
      );
    },
    done: () => false,
    catchUp: (until) => {
      const from = until - HORIZON_US;
      if (next < from) next += Math.ceil((from - next) / period) * period;
    },
  };
}
