import type { Rng } from "../../../core/rng.ts";
import { browserRequest, browserSubresourceRequest, parseResponse } from "../endpoints/http.ts";
import type { OsProfile } from "../endpoints/os-profile.ts";
import type { SockAddr } from "../endpoints/segment.ts";
import { type OpenConnection, openConnection } from "./connect.ts";
import type { Place } from "./types.ts";
import type { World } from "./world.ts";

/**
 * A desktop browser (Chrome 71, the seed's era) opening a page, as the seed's conntrack shows one:
 * two connections from adjacent source ports, both kept open (lines 191-192).
 * - Chrome preconnects a spare socket to the origin it navigates to (its loading predictor): a
 *   navigation opens two connections, the second one idle until a request needs it (observed with
 *   Wireshark: J. Freeman, "Browsers open extra connections in anticipation of additional requests",
 *   2022; Chromium's loading_predictor.cc). The spare one gets the stylesheet the page links
 *   (whereami's `<link rel="stylesheet">`), found while the page is being read; a page without one
 *   leaves it unused.
 * - HTTP/1.1 keep-alive: the browser never closes a socket itself within a scenario, not even one
 *   the server has closed (the seed found both in CLOSE_WAIT 23 s after httpd's FIN, line 191: 3577
 *   of kube-proxy's 3600 s); the server's keep-alive timeout decides (httpd's KeepAliveTimeout 5 s).
 * - Windows hands out its dynamic ports in order (the seed's 51535, 51536); Linux 4.6+ takes every
 *   second port for connect() (__inet_hash_connect), so its next connection is two further on.
 * The favicon request Chrome sends after the load is not modelled.
 */

export interface BrowseOptions {
  readonly from: Place;
  readonly ip?: number;
  /** The first connection's source port. */
  readonly sport: number;
  readonly to: SockAddr;
  /** The URL's host and path, as typed. */
  readonly host: string;
  readonly path: string;
  /** µs on the virtual clock. */
  readonly now: number;
  readonly rng: Rng;
  readonly profile: OsProfile;
}

export interface Browsing {
  /** The page's connection, then the preconnected one. */
  readonly connections: readonly OpenConnection[];
  /** µs when the page and what it links had come in (the load); null until then. */
  loadedAt(): number | null;
}

/** The preconnect goes out with the navigation, right behind the page's own connection. */
const PRECONNECT_US = 1_000;
/** Time the renderer takes from the page's bytes to asking for what it links. */
const PARSE_US = 3_000;

export function browse(world: World, o: BrowseOptions): Browsing {
  let page: number | null = null;
  let linked: number | null = null;
  let wantsLinked = false;
  const common = {
    from: o.from,
    ...(o.ip === undefined ? {} : { ip: o.ip }),
    to: o.to,
    rng: o.rng,
    profile: o.profile,
    closeAfterResponse: false,
    closeOnPeerFin: false,
  };
  const spare = openConnection(world, {
    ...common,
    sport: o.sport + (o.profile.layout === "windows" ? 1 : 2),
    request: "",
    now: o.now + PRECONNECT_US,
    onResponse: (_bytes, at) => {
      linked = at;
    },
  });
  const main = openConnection(world, {
    ...common,
    sport: o.sport,
    request: browserRequest(o.host, o.path),
    now: o.now,
    onResponse: (bytes, at) => {
      if (page !== null) return;
      page = at;
      const href = stylesheetOf(parseResponse(bytes)?.body ?? "");
      if (href === null) return;
      wantsLinked = true;
      const referer = `http://${o.host}${o.path}`;
      const path = resolvePath(o.path, href);
      spare.run.request(
        browserSubresourceRequest(o.host, path, referer, "text/css,*/*;q=0.1"),
        at + PARSE_US,
      );
    },
  });
  return {
    connections: [main, spare],
    loadedAt: () => (page === null || (wantsLinked && linked === null) ? null : Math.max(page, linked ?? 0)),
  };
}

/** The first stylesheet a page links (`<link rel="stylesheet" href="…">`), or null. */
function stylesheetOf(html: string): string | null {
  for (const m of html.matchAll(/<link\b[^>]*>/gi)) {
    const tag = m[0];
    if (!/\brel=["']?stylesheet\b/i.test(tag)) continue;
    const href = /\bhref=["']?([^"'\s>]+)/i.exec(tag)?.[1];
    // Another origin's stylesheet goes to another server: not this page's connections.
    if (href && !/^[a-z][a-z0-9+.-]*:|^\/\//i.test(href)) return href;
  }
  return null;
}

/** A link relative to the page's path (same origin only: an absolute URL is not followed). */
function resolvePath(pagePath: string, href: string): string {
  if (href.startsWith("/")) return href;
  return pagePath.replace(/[^/]*$/, "") + href;
}
