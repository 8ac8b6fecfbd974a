/**
 * The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit
 * big-endian words, an odd last byte padded with zero. IPv4, TCP, UDP and ICMP all use it.
 */

/** The running ones' complement sum of `bytes[start, end)`, folded into 16 bits, starting from `sum`. */
export function onesSum(bytes: Uint8Array, start: number, end: number, sum = 0): number {
  let s = sum;
  let i = start;
  for (; i + 1 < end; i += 2) s += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) s += bytes[i]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** The checksum field's value for `bytes[start, end)` (its own field zeroed), given a pseudo-header sum. */
export function internetChecksum(bytes: Uint8Array, start: number, end: number, sum = 0): number {
  return ~onesSum(bytes, start, end, sum) & 0xffff;
}

/** The TCP/UDP pseudo-header (RFC 793 §3.1, RFC 768): source, destination, zero, protocol, length. */
export function pseudoHeaderSum(src: number, dst: number, proto: number, length: number): number {
  let s = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + length;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/**
 * The value a checksum field should have held, from the field and the checksum computed over the
 * data including it (tcpdump's in_cksum_shouldbe, which it prints for a bad one).
 */
export function checksumShouldBe(field: number, computed: number): number {
  let s = field + computed;
  s = (s & 0xffff) + (s >>> 16);
  return (s & 0xffff) + (s >>> 16);
}
