import type { TcpState } from "../../../model/conntrack.ts";

/**
 * Conntrack timeouts in seconds, one field per `net.netfilter.nf_conntrack_*` sysctl.
 *
 * Flat on purpose: `Partial<CtTimeouts>` is then exactly "the sysctls someone changed" (kube-proxy sets
 * two of them), and the lab data plane can program the same values through TIMEOUT_SYSCTLS.
 */
export interface CtTimeouts {
  readonly tcpSynSent: number;
  readonly tcpSynRecv: number;
  readonly tcpEstablished: number;
  readonly tcpFinWait: number;
  readonly tcpCloseWait: number;
  readonly tcpLastAck: number;
  readonly tcpTimeWait: number;
  readonly tcpClose: number;
  readonly tcpSynSent2: number;
  /** Used after nf_conntrack_tcp_max_retrans retransmissions (window tracking; not modelled by the table). */
  readonly tcpMaxRetrans: number;
  /** Caps the timeout while data is unacknowledged, and for a picked-up connection before any reply. */
  readonly tcpUnacknowledged: number;
  /** UDP before a reply, and for a two-way flow younger than 2 s (UDP_CT_UNREPLIED). */
  readonly udpUnreplied: number;
  /** UDP "stream": two-way traffic still active after 2 s (UDP_CT_REPLIED). */
  readonly udpStream: number;
  readonly icmp: number;
  readonly icmpv6: number;
  /** Protocols without a tracker of their own (nf_conntrack_l4proto_generic). */
  readonly generic: number;
}

/**
 * Kernel defaults. Sources (upstream, the 6.x tree):
 * - TCP: `tcp_timeouts[]` in net/netfilter/nf_conntrack_proto_tcp.c (SYN_SENT 2 MINS, SYN_RECV 60 SECS,
 *   ESTABLISHED 5 DAYS, FIN_WAIT 2 MINS, CLOSE_WAIT 60 SECS, LAST_ACK 30 SECS, TIME_WAIT 2 MINS,
 *   CLOSE 10 SECS, SYN_SENT2 2 MINS, RETRANS 5 MINS, UNACK 5 MINS).
 * - UDP: `udp_timeouts[]` in nf_conntrack_proto_udp.c (UNREPLIED 30*HZ, REPLIED 120*HZ; the stream
 *   timeout was 180 s in older kernels).
 * - ICMP: `nf_ct_icmp_timeout` (nf_conntrack_proto_icmp.c) and `nf_ct_icmpv6_timeout`
 *   (nf_conntrack_proto_icmpv6.c), both 30*HZ. Generic: `nf_ct_generic_timeout` 600*HZ
 *   (nf_conntrack_proto_generic.c).
 * All of these were also read back from a fresh network namespace on a 6.18 kernel
 * (`sysctl net.netfilter`), which shows the per-netns defaults.
 */
export const DEFAULT_TIMEOUTS: CtTimeouts = {
  tcpSynSent: 120,
  tcpSynRecv: 60,
  tcpEstablished: 432000,
  tcpFinWait: 120,
  tcpCloseWait: 60,
  tcpLastAck: 30,
  tcpTimeWait: 120,
  tcpClose: 10,
  tcpSynSent2: 120,
  tcpMaxRetrans: 300,
  tcpUnacknowledged: 300,
  udpUnreplied: 30,
  udpStream: 120,
  icmp: 30,
  icmpv6: 30,
  generic: 600,
};

/**
 * What kube-proxy writes on every node it runs on: `--conntrack-tcp-timeout-established` defaults to
 * 24h and `--conntrack-tcp-timeout-close-wait` to 1h (pkg/proxy/apis/config/v1alpha1/defaults.go:
 * `TCPEstablishedTimeout = 24 * time.Hour`, `TCPCloseWaitTimeout = 1 * time.Hour`). Its newer
 * `--conntrack-udp-timeout` and `--conntrack-udp-timeout-stream` default to 0, "leave as-is", so they
 * are absent here. This is why the seed's CLOSE_WAIT entry shows 3577 seconds, not at most 60.
 */
export const KUBE_PROXY_TIMEOUTS: Partial<CtTimeouts> = {
  tcpEstablished: 86400,
  tcpCloseWait: 3600,
};

/** The sysctl behind each field (net.netfilter.*); SYN_SENT2 has a default but no sysctl. */
export const TIMEOUT_SYSCTLS: { readonly [K in keyof CtTimeouts]: string | null } = {
  tcpSynSent: "nf_conntrack_tcp_timeout_syn_sent",
  tcpSynRecv: "nf_conntrack_tcp_timeout_syn_recv",
  tcpEstablished: "nf_conntrack_tcp_timeout_established",
  tcpFinWait: "nf_conntrack_tcp_timeout_fin_wait",
  tcpCloseWait: "nf_conntrack_tcp_timeout_close_wait",
  tcpLastAck: "nf_conntrack_tcp_timeout_last_ack",
  tcpTimeWait: "nf_conntrack_tcp_timeout_time_wait",
  tcpClose: "nf_conntrack_tcp_timeout_close",
  tcpSynSent2: null,
  tcpMaxRetrans: "nf_conntrack_tcp_timeout_max_retrans",
  tcpUnacknowledged: "nf_conntrack_tcp_timeout_unacknowledged",
  udpUnreplied: "nf_conntrack_udp_timeout",
  udpStream: "nf_conntrack_udp_timeout_stream",
  icmp: "nf_conntrack_icmp_timeout",
  icmpv6: "nf_conntrack_icmpv6_timeout",
  generic: "nf_conntrack_generic_timeout",
};

/** Kernel defaults with the given overrides applied in order (later wins), e.g. `withTimeouts(KUBE_PROXY_TIMEOUTS)`. */
export function withTimeouts(...overrides: readonly (Partial<CtTimeouts> | undefined)[]): CtTimeouts {
  const merged: Record<string, number> = { ...DEFAULT_TIMEOUTS };
  for (const o of overrides) {
    if (o === undefined) continue;
    for (const [key, value] of Object.entries(o)) {
      if (value === undefined) continue;
      if (!Number.isInteger(value) || value < 0) {
        throw new RangeError(
          `Cannot set conntrack timeout ${key}: ${value} is not a whole number of seconds`,
        );
      }
      merged[key] = value;
    }
  }
  return merged as unknown as CtTimeouts;
}

/** The timeout of a TCP state (the index into tcp_timeouts[]); NONE never lasts, so it has none. */
export function tcpStateTimeout(t: CtTimeouts, state: Exclude<TcpState, "NONE">): number {
  switch (state) {
    case "SYN_SENT":
      return t.tcpSynSent;
    case "SYN_RECV":
      return t.tcpSynRecv;
    case "ESTABLISHED":
      return t.tcpEstablished;
    case "FIN_WAIT":
      return t.tcpFinWait;
    case "CLOSE_WAIT":
      return t.tcpCloseWait;
    case "LAST_ACK":
      return t.tcpLastAck;
    case "TIME_WAIT":
      return t.tcpTimeWait;
    case "CLOSE":
      return t.tcpClose;
    case "SYN_SENT2":
      return t.tcpSynSent2;
  }
}
