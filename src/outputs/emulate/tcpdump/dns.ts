import { formatIpv4, formatIpv6 } from "../../../core/ip.ts";

/**
 * tcpdump's one-line DNS summary without -v (print-domain.c, ns_print): a query prints
 * `ID[+] TYPE? NAME. (LEN)`, a response `ID[rcode][*][-] AN/NS/AR TYPE DATA[,...] (LEN)`, where `+`
 * is recursion desired, `*` authoritative, `-` recursion not available. Only the record data a
 * cluster's lookups return (A, AAAA, CNAME, PTR, NS) is decoded; other records print their type alone.
 */

const TYPES: Readonly<Record<number, string>> = {
  1: "A",
  2: "NS",
  5: "CNAME",
  6: "SOA",
  12: "PTR",
  15: "MX",
  16: "TXT",
  28: "AAAA",
  33: "SRV",
};
const RCODES = ["", " FormErr", " ServFail", " NXDomain", " NotImp", " Refused"];

/** A domain name at `at` (following compression pointers, RFC 1035 §4.1.4), and where it ends. */
function readName(m: Uint8Array, at: number): { name: string; end: number } | null {
  const labels: string[] = [];
  let i = at;
  let end = -1;
  for (let hops = 0; hops < 64; hops++) {
    const len = m[i];
    if (len === undefined) return null;
    if (len === 0) {
      return { name: labels.length === 0 ? "." : labels.join(".") + ".", end: end < 0 ? i + 1 : end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = i + 2;
      i = ((len & 0x3f) << 8) | (m[i + 1] ?? 0);
      continue;
    }
    if (i + 1 + len > m.length) return null;
    labels.push(String.fromCharCode(...m.subarray(i + 1, i + 1 + len)));
    i += 1 + len;
  }
  return null;
}

function typeName(t: number): string {
  return TYPES[t] ?? `Type${t}`;
}

/**
 * The summary for a DNS message carried in `m` (the UDP payload), or null if it is too short. With
 * -v each answer starts with its owner name (ns_rprint prints it when ndo_vflag is set).
 */
export function dnsSummary(m: Uint8Array, verbose = false): string | null {
  if (m.length < 12) return null;
  const u16 = (i: number) => (m[i]! << 8) | m[i + 1]!;
  const id = u16(0);
  const f1 = m[2]!;
  const f2 = m[3]!;
  const [qd, an, ns, ar] = [u16(4), u16(6), u16(8), u16(10)];
  let at = 12;
  const questions: string[] = [];
  for (let q = 0; q < qd; q++) {
    const n = readName(m, at);
    if (!n || n.end + 4 > m.length) return null;
    const cls = u16(n.end + 2);
    questions.push(` ${typeName(u16(n.end))}${cls === 1 ? "" : ` C${cls}`}? ${n.name}`);
    at = n.end + 4;
  }
  const qcount = qd === 1 ? "" : ` [${qd}q]`;
  if ((f1 & 0x80) === 0) {
    const extra = (an ? ` [${an}a]` : "") + (ns ? ` [${ns}n]` : "") + (ar ? ` [${ar}au]` : "");
    return `${id}${f1 & 1 ? "+" : ""}${qcount}${extra}${questions[0] ?? ""} (${m.length})`;
  }
  const flags = (RCODES[f2 & 15] ?? ` Resp${f2 & 15}`) + (f1 & 4 ? "*" : "") + (f2 & 0x80 ? "" : "-");
  const answers: string[] = [];
  for (let a = 0; a < an; a++) {
    const n = readName(m, at);
    if (!n || n.end + 10 > m.length) return null;
    const type = u16(n.end);
    const rdlen = u16(n.end + 8);
    const rd = n.end + 10;
    if (rd + rdlen > m.length) return null;
    let data = "";
    if (type === 1 && rdlen === 4)
      data = ` ${formatIpv4(((m[rd]! << 24) | (m[rd + 1]! << 16) | u16(rd + 2)) >>> 0)}`;
    else if (type === 28 && rdlen === 16)
      data = ` ${formatIpv6(m.subarray(rd, rd + 16).reduce((v, b) => (v << 8n) | BigInt(b), 0n))}`;
    else if (type === 5 || type === 12 || type === 2) data = ` ${readName(m, rd)?.name ?? ""}`;
    answers.push(`${verbose ? ` ${n.name}` : ""} ${typeName(type)}${data}`);
    at = rd + rdlen;
  }
  return `${id}${flags}${qcount} ${an}/${ns}/${ar}${answers.join(",")} (${m.length})`;
}
