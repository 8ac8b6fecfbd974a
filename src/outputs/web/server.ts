import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { type ApiState, handleApi } from "./api.ts";

/**
 * The web view's HTTP server (node:http, no dependency): the page from ui/ next to this module, the
 * JSON API (api.ts) under /api/. It serves nothing else: no file outside ui/ is ever read, and only
 * plain names are looked up there. Loopback unless told otherwise; bodies capped; the page may
 * load only what this server serves (it works offline).
 */

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 7180;
/** The largest request body accepted (a pasted scenario fits many times over). */
export const MAX_BODY = 1024 * 1024;

const UI_DIR = fileURLToPath(new URL("./ui/", import.meta.url));
const UI_NAME = /^[a-z0-9-]+\.(js|css|html|svg|woff2)$/;
const TYPES: Readonly<Record<string, string>> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  html: "text/html; charset=utf-8",
  svg: "image/svg+xml",
  woff2: "font/woff2",
};

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "X-Content-Type-Options": "nosniff",
  "Content-Security-Policy":
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
};

export interface ServerOptions {
  readonly host?: string;
  readonly port?: number;
  readonly state: ApiState;
  /** The page's directory (tests); default: ui/ next to this module. */
  readonly uiDir?: string;
}

export interface RunningServer {
  /** `http://127.0.0.1:7180/` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost)$/i;

/** The hostname of a Host header (`[::1]:7180` → `::1`). */
function hostName(header: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(header) ?? /^([^:]+)(?::\d+)?$/.exec(header);
  return m?.[1] ?? header;
}

function send(
  res: ServerResponse,
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string | Uint8Array,
): void {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers, "Content-Length": String(bytes.byteLength) });
  res.end(bytes);
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  extra: Record<string, string> = {},
): void {
  send(
    res,
    status,
    { "Content-Type": "application/json; charset=utf-8", ...extra },
    JSON.stringify({ error: message }),
  );
}

/** The body as text, or a status to answer with (413 too large, 400 not UTF-8). */
function readBody(
  req: IncomingMessage,
): Promise<{ text: string | null } | { status: number; message: string }> {
  return new Promise((done) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    const tooLarge = { status: 413, message: `The request body is larger than ${MAX_BODY} bytes` };
    if (declared > MAX_BODY) {
      done(tooLarge);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > MAX_BODY) {
        over = true;
        chunks.length = 0;
        done(tooLarge);
      } else chunks.push(c);
    });
    req.on("end", () => {
      if (over) return;
      if (size === 0) return done({ text: null });
      try {
        done({ text: new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks)) });
      } catch {
        done({ status: 400, message: "The request body is not UTF-8 text" });
      }
    });
    req.on("error", () => done({ status: 400, message: "The request body could not be read" }));
  });
}

async function serveUi(res: ServerResponse, dir: string, name: string): Promise<void> {
  // Only a plain name, looked up inside the directory: `..`, slashes and escapes never match.
  const m = UI_NAME.exec(name);
  const file = resolve(dir, name);
  if (!m || !file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) {
    sendError(res, 404, `No such file: /ui/${name}`);
    return;
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    sendError(res, 404, `No such file: /ui/${name}`);
    return;
  }
  send(res, 200, { "Content-Type": TYPES[m[1] as string] as string }, bytes);
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  o: { state: ApiState; uiDir: string; loopback: boolean },
): Promise<void> {
  const raw = req.url ?? "/";
  const q = raw.indexOf("?");
  // The path as sent, never normalised: `/ui/../x` stays what it is and matches nothing.
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  const method = req.method ?? "GET";

  // On loopback, only pages of this machine's own names may talk to us (no DNS rebinding), and a
  // cross-site page may not send requests that change the twins.
  const host = req.headers.host ?? "";
  if (o.loopback && !LOOPBACK.test(hostName(host))) {
    req.resume();
    return sendError(res, 403, `Host "${host}" is not this machine: open the address packetwalk printed`);
  }
  const origin = req.headers.origin;
  if (origin !== undefined && method !== "GET" && method !== "HEAD") {
    let same = false;
    try {
      same = new URL(origin).host === host;
    } catch {}
    if (!same) {
      req.resume();
      return sendError(res, 403, `Requests from ${origin} are not allowed`);
    }
  }

  if (path.startsWith("/api/")) {
    const body = await readBody(req);
    if ("status" in body) {
      // Let the client finish sending so it reads the answer, then drop the connection.
      req.resume();
      return sendError(res, body.status, body.message, { Connection: "close" });
    }
    const r = handleApi(o.state, { method, path, query, body: body.text });
    return send(res, r.status, r.headers, r.body);
  }
  req.resume();
  if (path === "/" || path.startsWith("/ui/")) {
    // HEAD too (curl -I): node sends the headers of the GET without its body.
    if (method !== "GET" && method !== "HEAD")
      return sendError(res, 405, `${method} ${path}: use GET`, { Allow: "GET, HEAD" });
    return serveUi(res, o.uiDir, path === "/" ? "index.html" : path.slice("/ui/".length));
  }
  sendError(res, 404, `Nothing at ${path}: the page is at /`);
}

/** Starts listening; rejects with the socket's error (a port in use is EADDRINUSE). */
export function startServer(o: ServerOptions): Promise<RunningServer> {
  const host = o.host ?? DEFAULT_HOST;
  const uiDir = resolve(o.uiDir ?? UI_DIR);
  const loopback = LOOPBACK.test(host);
  const server = createServer((req, res) => {
    handle(req, res, { state: o.state, uiDir, loopback }).catch((e: unknown) => {
      if (!res.headersSent)
        sendError(res, 500, `Internal error: ${e instanceof Error ? e.message : String(e)}`);
      else res.destroy();
    });
  });
  return new Promise((done, fail) => {
    server.once("error", fail);
    server.listen(o.port ?? DEFAULT_PORT, host, () => {
      server.off("error", fail);
      const a = server.address() as AddressInfo;
      const shown = a.family === "IPv6" ? `[${a.address}]` : a.address;
      done({
        url: `http://${shown}:${a.port}/`,
        host: a.address,
        port: a.port,
        close: () =>
          new Promise<void>((closed) => {
            server.close(() => closed());
            server.closeAllConnections();
          }),
      });
    });
  });
}
