import { parseIpv4 } from "../../../../core/ip.ts";
import { seededRng } from "../../../../core/rng.ts";
import { curlRequest } from "../../endpoints/http.ts";
import { LINUX_2019, LINUX_CURRENT, type OsProfile } from "../../endpoints/os-profile.ts";
import { connect } from "../connect.ts";
import type { Place } from "../types.ts";
import type { World } from "../world.ts";

/** Traffic for the world's tests. */

export function ip(text: string): number {
  const v = parseIpv4(text);
  if (v === null) throw new Error(`test: ${text} is not an IPv4 address`);
  return v;
}

/**
 * curl's `GET /` from `from` (client port `sport`) to `to:port` through the World at `now`: the client
 * draws from a stream seeded with its port and runs the Linux stack of the twin's era unless told.
 */
export function tcpTo(
  w: World,
  from: Place,
  to: string,
  port: number,
  sport: number,
  now: number,
  opts: { readonly until?: number; readonly profile?: OsProfile } = {},
) {
  return connect(w, {
    from,
    sport,
    to: { ip: ip(to), port },
    request: curlRequest(to, port, "/"),
    now,
    rng: seededRng(sport),
    profile: opts.profile ?? (w.twin.k8s.version.startsWith("1.11") ? LINUX_2019 : LINUX_CURRENT),
    ...(opts.until === undefined ? {} : { until: opts.until }),
  });
}
