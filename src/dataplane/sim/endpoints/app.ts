import { type HttpRequest, parseRequest, wantsClose } from "./http.ts";
import type { SockAddr } from "./segment.ts";

/** What a server process sees of one connection, and what it answers. */
export interface AppContext {
  /** Received bytes not yet consumed by an earlier answer. */
  readonly bytes: Uint8Array;
  readonly local: SockAddr;
  /** The client as the server's socket sees it (after any NAT on the way: what whereami prints). */
  readonly remote: SockAddr;
  /** µs on the virtual clock. */
  readonly now: number;
}

export interface AppReply {
  readonly bytes: Uint8Array;
  /** How many request bytes this answer used up. */
  readonly consumed: number;
  /** Time the process takes to answer (µs). */
  readonly delayUs: number;
  /** Close the connection after the answer (Connection: close). */
  readonly close: boolean;
  /** The close rides on the answer's last segment (the data still queued when the server closes). */
  readonly finWithData?: boolean;
}

export interface TcpApp {
  readonly name: string;
  /** null while the request is incomplete. */
  respond(ctx: AppContext): AppReply | null;
  /** Idle time after which the server closes a kept-alive connection itself; null: never. */
  readonly keepAliveTimeoutUs: number | null;
}

export interface HttpHandlerInput {
  readonly request: HttpRequest;
  readonly ctx: AppContext;
  /** The server will close after this answer (the client asked to). */
  readonly closing: boolean;
}

/** A TCP app speaking HTTP/1.1: waits for a whole request, answers it, honours Connection: close. */
export function httpApp(opts: {
  readonly name: string;
  readonly keepAliveTimeoutUs: number | null;
  readonly delayUs: number;
  readonly handle: (input: HttpHandlerInput) => Uint8Array;
  /** Closing after an answer, it sends the FIN with the answer's last segment (HTTP.sys). */
  readonly finWithData?: boolean;
}): TcpApp {
  return {
    name: opts.name,
    keepAliveTimeoutUs: opts.keepAliveTimeoutUs,
    respond(ctx) {
      const parsed = parseRequest(ctx.bytes);
      if (!parsed) return null;
      const closing = wantsClose(parsed.request);
      const bytes = opts.handle({ request: parsed.request, ctx, closing });
      return {
        bytes,
        consumed: parsed.length,
        delayUs: opts.delayUs,
        close: closing,
        ...(closing && opts.finWithData ? { finWithData: true } : {}),
      };
    },
  };
}
