import { httpApp, type TcpApp } from "../app.ts";
import { formatResponse, httpDate } from "../http.ts";

/**
 * nginx serving its default page (the official image's /usr/share/nginx/html/index.html). Headers in
 * the order ngx_http_header_filter writes them: Server, Date, Content-Type, Content-Length,
 * Last-Modified, Connection, ETag (mtime-size in hex, ngx_http_set_etag), Accept-Ranges.
 */

export interface NginxBuild {
  readonly version: string;
  /** mtime of index.html in the image (µs since the epoch). */
  readonly lastModifiedUs: number;
  /** The page changed in 1.21 (color-scheme), from 612 to 615 bytes. */
  readonly page: "classic" | "color-scheme";
}

/** nginx:latest in January 2019 (the seed's nginx service): 1.15.8, ETag "5c21fedf-264". */
export const NGINX_1_15_8: NginxBuild = {
  version: "1.15.8",
  lastModifiedUs: Date.UTC(2018, 11, 25, 9, 56, 47) * 1000,
  page: "classic",
};

/** A current nginx (the mtime is that of one 1.27.4 image build; other builds differ). */
export const NGINX_1_27_4: NginxBuild = {
  version: "1.27.4",
  lastModifiedUs: Date.UTC(2025, 1, 5, 11, 6, 32) * 1000,
  page: "color-scheme",
};

const STYLE_CLASSIC =
  "<style>\n    body {\n        width: 35em;\n        margin: 0 auto;\n" +
  "        font-family: Tahoma, Verdana, Arial, sans-serif;\n    }\n</style>\n";
const STYLE_SCHEME =
  "<style>\nhtml { color-scheme: light dark; }\nbody { width: 35em; margin: 0 auto;\n" +
  "font-family: Tahoma, Verdana, Arial, sans-serif; }\n</style>\n";

export function nginxDefaultPage(page: NginxBuild["page"]): string {
  return (
    "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n" +
    (page === "classic" ? STYLE_CLASSIC : STYLE_SCHEME) +
    "</head>\n<body>\n<h1>Welcome to nginx!</h1>\n" +
    "<p>If you see this page, the nginx web server is successfully installed and\n" +
    "working. Further configuration is required.</p>\n\n" +
    "<p>For online documentation and support please refer to\n" +
    '<a href="http://nginx.org/">nginx.org</a>.<br/>\n' +
    "Commercial support is available at\n" +
    '<a href="http://nginx.com/">nginx.com</a>.</p>\n\n' +
    "<p><em>Thank you for using nginx.</em></p>\n</body>\n</html>\n"
  );
}

/** keepalive_timeout 65 in the image's nginx.conf. */
const KEEPALIVE_US = 65_000_000;

export function nginxApp(build: NginxBuild = NGINX_1_15_8): TcpApp {
  const body = nginxDefaultPage(build.page);
  const mtime = Math.floor(build.lastModifiedUs / 1_000_000);
  const etag = `"${mtime.toString(16)}-${body.length.toString(16)}"`;
  return httpApp({
    name: "nginx",
    keepAliveTimeoutUs: KEEPALIVE_US,
    delayUs: 150,
    handle: ({ request, ctx, closing }) => {
      const notFound = request.target !== "/" && request.target !== "/index.html";
      if (notFound) return notFoundPage(build, ctx.now, closing);
      return formatResponse(
        200,
        [
          ["Server", `nginx/${build.version}`],
          ["Date", httpDate(ctx.now)],
          ["Content-Type", "text/html"],
          ["Content-Length", String(body.length)],
          ["Last-Modified", httpDate(build.lastModifiedUs)],
          ["Connection", closing ? "close" : "keep-alive"],
          ["ETag", etag],
          ["Accept-Ranges", "bytes"],
        ],
        request.method === "HEAD" ? "" : body,
      );
    },
  });
}

/** ngx_http_error_404_page with the server tail (server_tokens on). */
function notFoundPage(build: NginxBuild, now: number, closing: boolean): Uint8Array {
  const body =
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n" +
    // bgcolor went away in 1.17.x, before the page's color-scheme change.
    (build.page === "classic" ? '<body bgcolor="white">\r\n' : "<body>\r\n") +
    "<center><h1>404 Not Found</h1></center>\r\n" +
    `<hr><center>nginx/${build.version}</center>\r\n</body>\r\n</html>\r\n`;
  return formatResponse(
    404,
    [
      ["Server", `nginx/${build.version}`],
      ["Date", httpDate(now)],
      ["Content-Type", "text/html"],
      ["Content-Length", String(body.length)],
      ["Connection", closing ? "close" : "keep-alive"],
    ],
    body,
  );
}
