import { formatIpv4 } from "../../../../core/ip.ts";
import { httpApp, type TcpApp } from "../app.ts";
import { formatResponse, header, httpDate } from "../http.ts";

/**
 * The seed's app, erjosito/whereami:1.3. Its source is not published under that name; the image is
 * the "where am I" container of erjosito/whoami (Dockerfile at 4ea57dba: CentOS 7, httpd and PHP,
 * `CMD /usr/sbin/httpd -D FOREGROUND`, the `/bin/sh -c '/usr/sb…` the seed's `docker ps` shows).
 * Its index.php prints the hostname (the pod name), `hostname -i` (the pod IP), `uname -a`, the public
 * IP from `curl ifconfig.co`, and what it sees of the client: REMOTE_ADDR (the source address of the
 * TCP connection, so the node's IP under Cluster and the client's under Local) and X-Forwarded-For.
 * The page below is that output, abridged (meta tags, nav bar and the instance-metadata block left out)
 * and unverified against the 1.3 tag itself; the geolocation lookup (freegeoip.net, closed in 2018)
 * comes out empty. Headers are httpd's with mod_php: Date, Server, X-Powered-By, Content-Length,
 * Keep-Alive/Connection, Content-Type.
 */

export interface WhereamiPod {
  /** The pod's hostname: its name. */
  readonly name: string;
  /** The pod IP (uint32). */
  readonly ip: number;
  /** `uname -r` and `uname -v` of the node's kernel (containers share it). */
  readonly kernelRelease: string;
  readonly kernelVersion: string;
  /** What `curl ifconfig.co` returned from inside the pod (its egress public IP), or "" without one. */
  readonly publicIp: string;
}

/** CentOS 7's httpd and PHP (ServerTokens Full, expose_php On). */
const SERVER = "Apache/2.4.6 (CentOS) PHP/5.4.16";
const POWERED_BY = "PHP/5.4.16";
/** The page runs `curl ifconfig.co` and two more lookups before answering: a few hundred ms. */
const PAGE_DELAY_US = 250_000;
/** httpd 2.4 defaults: KeepAlive On, KeepAliveTimeout 5, MaxKeepAliveRequests 100. */
const KEEPALIVE_US = 5_000_000;

export function whereamiPage(pod: WhereamiPod, remoteAddr: string, forwardedFor: string): string {
  const uname = `Linux ${pod.name} ${pod.kernelRelease} ${pod.kernelVersion} x86_64 x86_64 x86_64 GNU/Linux`;
  const li = (s: string): string => `         <li>${s}</li>\n`;
  return (
    "<!DOCTYPE html>\n" +
    '<html lang="en">\n' +
    "    <head>\n" +
    "        <title>Welcome to the 'where am I' container!</title>\n" +
    '        <meta charset="utf-8">\n' +
    '        <link rel="stylesheet" href="styles.css">\n' +
    "    </head>\n" +
    "    <body>\n" +
    '        <div class="header"><h1 class="header-heading">Welcome to the \'whereami\' container</h1></div>\n' +
    '        <div class="content"><div class="main">\n' +
    `\t\t\t\t\t<h1>${pod.name}</h1>\n` +
    "\t\t\t\t\t<hr>\n" +
    "                    <p>Some info about me:</p>\n" +
    "                    <ul>\n" +
    li(`Name: ${pod.name}`) +
    li(`Software: ${SERVER}`) +
    li(`Kernel info: ${uname}`) +
    li(`Private IP address: ${formatIpv4(pod.ip)}`) +
    li(`Public IP address: ${pod.publicIp}`) +
    "                    </ul>\n" +
    "                    <br>\n" +
    "                    <p>What I see about you:</p>\n" +
    "                    <ul>\n" +
    li("Client IP: ") +
    li(`Remote address: ${remoteAddr}`) +
    li(`X-Forwarded-For: ${forwardedFor}`) +
    "                    </ul>\n" +
    "                    <br>\n" +
    "                    <p>Information retrieved out of the public IP:</p>\n" +
    "                    <ul>\n" +
    "                        <li>Country: </li>\n" +
    "                        <li>Region: </li>\n" +
    "                        <li>City: </li>\n" +
    "                    </ul>\n" +
    "        </div></div>\n" +
    "    </body>\n" +
    "</html>\n"
  );
}

/** Pull the address whereami printed out of its page (what a `curl | grep` of it would show). */
export function whereamiRemoteAddress(page: string): string | null {
  return /<li>Remote address: ([^<]*)<\/li>/.exec(page)?.[1] ?? null;
}

export function whereamiApp(pod: WhereamiPod): TcpApp {
  return httpApp({
    name: "httpd",
    keepAliveTimeoutUs: KEEPALIVE_US,
    delayUs: PAGE_DELAY_US,
    handle: ({ request, ctx, closing }) => {
      const path = request.target.split("?")[0];
      if (path !== "/" && path !== "/index.php") return apache404(path ?? "", ctx.now, closing);
      const body = whereamiPage(
        pod,
        formatIpv4(ctx.remote.ip),
        header(request.headers, "x-forwarded-for") ?? "",
      );
      return formatResponse(
        200,
        [
          ["Date", httpDate(ctx.now)],
          ["Server", SERVER],
          ["X-Powered-By", POWERED_BY],
          ["Content-Length", String(body.length)],
          ...apacheConnection(closing),
          ["Content-Type", "text/html; charset=UTF-8"],
        ],
        request.method === "HEAD" ? "" : body,
      );
    },
  });
}

/** Apache's Keep-Alive/Connection pair (ap_set_keepalive), or Connection: close. */
function apacheConnection(closing: boolean): [string, string][] {
  return closing
    ? [["Connection", "close"]]
    : [
        ["Keep-Alive", "timeout=5, max=100"],
        ["Connection", "Keep-Alive"],
      ];
}

function apache404(path: string, now: number, closing: boolean): Uint8Array {
  const body =
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found</title>\n' +
    "</head><body>\n<h1>Not Found</h1>\n" +
    `<p>The requested URL ${path} was not found on this server.</p>\n</body></html>\n`;
  return formatResponse(
    404,
    [
      ["Date", httpDate(now)],
      ["Server", SERVER],
      ["Content-Length", String(body.length)],
      ...apacheConnection(closing),
      ["Content-Type", "text/html; charset=iso-8859-1"],
    ],
    body,
  );
}
