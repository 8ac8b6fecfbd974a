import { text, utf8 } from "./segment.ts";

/** HTTP/1.1 on the wire (RFC 9112): just enough to parse requests and write real servers' responses. */

export interface HttpRequest {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  /** Field names lower-cased, in order. */
  readonly headers: readonly (readonly [string, string])[];
}

export function header(h: readonly (readonly [string, string])[], name: string): string | null {
  const n = name.toLowerCase();
  for (const [k, v] of h) if (k === n) return v;
  return null;
}

/** Bytes up to the end of the header block, or -1 while it is incomplete. */
function headEnd(s: string): number {
  const i = s.indexOf("\r\n\r\n");
  return i < 0 ? -1 : i + 4;
}

function parseFields(lines: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (const line of lines) {
    const c = line.indexOf(":");
    if (c > 0) out.push([line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim()]);
  }
  return out;
}

/** A whole request (head plus Content-Length body) and how many bytes it took, or null if incomplete. */
export function parseRequest(bytes: Uint8Array): { request: HttpRequest; length: number } | null {
  const s = text(bytes);
  const end = headEnd(s);
  if (end < 0) return null;
  const [first = "", ...rest] = s.slice(0, end - 4).split("\r\n");
  const [method = "", target = "", version = ""] = first.split(" ");
  const headers = parseFields(rest);
  const body = Number(header(headers, "content-length") ?? "0");
  if (s.length < end + body) return null;
  return { request: { method, target, version, headers }, length: end + body };
}

/**
 * Whether a response is complete: its head and Content-Length bytes arrived (or it has no body, as
 * for 1xx/204/304). Chunked bodies end with the zero chunk.
 */
export function responseComplete(bytes: Uint8Array): boolean {
  const s = text(bytes);
  const end = headEnd(s);
  if (end < 0) return false;
  const [first = "", ...rest] = s.slice(0, end - 4).split("\r\n");
  const status = Number(first.split(" ")[1]);
  if ((status >= 100 && status < 200) || status === 204 || status === 304) return true;
  const h = parseFields(rest);
  const cl = header(h, "content-length");
  if (cl !== null) return s.length >= end + Number(cl);
  if (header(h, "transfer-encoding")?.includes("chunked")) return s.endsWith("\r\n0\r\n\r\n");
  return false;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** IMF-fixdate (RFC 9110 §5.6.7), what Apache, nginx and Go put in Date: `Tue, 22 Jan 2019 23:40:31 GMT`. */
export function httpDate(epochUs: number): string {
  const d = new Date(Math.floor(epochUs / 1_000_000) * 1000);
  const two = (n: number): string => String(n).padStart(2, "0");
  return (
    `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT`
  );
}

/** Reason phrases as Go's net/http, Apache and nginx print them. */
const REASONS: Record<number, string> = {
  200: "OK",
  301: "Moved Permanently",
  304: "Not Modified",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Status line, fields in the order given (each server has its own), blank line, body. */
export function formatResponse(
  status: number,
  fields: readonly (readonly [string, string])[],
  body: string,
): Uint8Array {
  const head = [`HTTP/1.1 ${status} ${REASONS[status] ?? ""}`, ...fields.map(([k, v]) => `${k}: ${v}`)];
  return utf8(`${head.join("\r\n")}\r\n\r\n${body}`);
}

/** The parts of a response a test or a narration wants. */
export function parseResponse(
  bytes: Uint8Array,
): { status: number; headers: readonly (readonly [string, string])[]; body: string } | null {
  const s = text(bytes);
  const end = headEnd(s);
  if (end < 0) return null;
  const [first = "", ...rest] = s.slice(0, end - 4).split("\r\n");
  return { status: Number(first.split(" ")[1]), headers: parseFields(rest), body: s.slice(end) };
}

/** Whether the client asked to close after this request (HTTP/1.0 without keep-alive, or Connection: close). */
export function wantsClose(req: HttpRequest): boolean {
  const c = header(req.headers, "connection")?.toLowerCase() ?? "";
  if (req.version === "HTTP/1.0") return !c.includes("keep-alive");
  return c.includes("close");
}

/**
 * curl's request: `GET PATH HTTP/1.1`, Host (port shown unless 80), User-Agent, Accept. curl 7.47.0 is
 * Ubuntu 16.04's (the seed's node), 7.81.0 Ubuntu 22.04's.
 */
export function curlRequest(host: string, port: number, path: string, version = "7.47.0"): string {
  const h = port === 80 ? host : `${host}:${port}`;
  return `GET ${path} HTTP/1.1\r\nHost: ${h}\r\nUser-Agent: curl/${version}\r\nAccept: */*\r\n\r\n`;
}

const CHROME_71_UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " +
  "Chrome/71.0.3578.98 Safari/537.36";

/**
 * The same browser asking for a page's subresource: no Upgrade-Insecure-Requests, the Accept of the
 * resource's kind (a stylesheet's: text/css, anything else at q=0.1), and the page as Referer.
 */
export function browserSubresourceRequest(
  host: string,
  path: string,
  referer: string,
  accept: string,
): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\nUser-Agent: ${CHROME_71_UA}\r\n` +
    `Accept: ${accept}\r\nReferer: ${referer}\r\n` +
    "Accept-Encoding: gzip, deflate\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n"
  );
}

/** A browser's first request for a page (Chrome 71 on Windows 10, January 2019). */
export function browserRequest(host: string, path = "/"): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\n` +
    `User-Agent: ${CHROME_71_UA}\r\n` +
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,image/apng,*/*;q=0.8\r\n" +
    "Accept-Encoding: gzip, deflate\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n"
  );
}
