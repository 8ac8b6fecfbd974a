/**
 * Number conversions shared by the iptables parser and writer, with the C library's semantics
 * that iptables relies on (strtoul base 0, lround, printf %.11f).
 */

/** strtoul(text, NULL, 0) restricted to uint32: `0x` hex, leading `0` octal, else decimal. */
export function parseU32(text: string): number | null {
  let value: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) value = Number.parseInt(text.slice(2), 16);
  else if (/^0[0-7]+$/.test(text)) value = Number.parseInt(text.slice(1), 8);
  else if (/^\d+$/.test(text)) value = Number(text);
  else return null;
  return value <= 0xffffffff ? value : null;
}

export function hex(value: number): string {
  return `0x${(value >>> 0).toString(16)}`;
}

const TWO_31 = 0x80000000;

/** libxt_statistic: the kernel keeps lround(0x80000000 * p), a 31-bit fraction. */
export function probabilityToStored(p: number): number {
  return Math.round(TWO_31 * p);
}

/**
 * Prints stored/2^31 with %.11f, exactly as glibc does (exact decimal expansion, ties to even),
 * so `0.33333` comes back as `0.33332999982` and `0.3333333333` as `0.33333333349`.
 */
export function formatStoredProbability(stored: number): string {
  const scaled = BigInt(stored) * 10n ** 11n;
  const denom = BigInt(TWO_31);
  let q = scaled / denom;
  const twiceRem = (scaled % denom) * 2n;
  if (twiceRem > denom || (twiceRem === denom && (q & 1n) === 1n)) q += 1n;
  const digits = q.toString().padStart(12, "0");
  return `${digits.slice(0, -11)}.${digits.slice(-11)}`;
}

/** Well-known service names iptables resolves with getservbyname (Debian netbase). */
const SERVICES: ReadonlyMap<string, number> = new Map([
  ["ftp", 21],
  ["ssh", 22],
  ["telnet", 23],
  ["smtp", 25],
  ["domain", 53],
  ["http", 80],
  ["www", 80],
  ["https", 443],
  ["ntp", 123],
  ["bgp", 179],
  ["ldap", 389],
  ["syslog", 514],
]);

export function parsePort(text: string): number | null {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n <= 65535 ? n : null;
  }
  return SERVICES.get(text) ?? null;
}

/** `80`, `1000:2000`, `1000:` (to 65535), `:1000` (from 0), as libxt_tcp/udp accept them. */
export function parsePortRange(text: string, sep = ":"): { from: number; to: number } | null {
  const i = text.indexOf(sep);
  if (i < 0) {
    const p = parsePort(text);
    return p === null ? null : { from: p, to: p };
  }
  const from = i === 0 ? 0 : parsePort(text.slice(0, i));
  const to = i === text.length - 1 ? 65535 : parsePort(text.slice(i + 1));
  if (from === null || to === null || from > to) return null;
  return { from, to };
}

export function formatPortRange(r: { from: number; to: number }, sep = ":"): string {
  return r.from === r.to ? String(r.from) : `${r.from}${sep}${r.to}`;
}

/**
 * xtables_save_string: unquoted when every character is in [A-Za-z0-9_-] (and it is not empty),
 * otherwise double-quoted with `"`, `\` and `'` escaped by a backslash.
 */
export function saveString(value: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(value)) return value;
  return `"${value.replace(/["\\']/g, (c) => `\\${c}`)}"`;
}
