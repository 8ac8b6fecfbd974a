import assert from "node:assert/strict";
import { test } from "node:test";
import { base32Std, endpointHash, portProtoHash } from "./kube-hash.ts";

test("base32 matches RFC 4648's test vectors (Go's StdEncoding)", () => {
  const enc = (s: string) => base32Std(new TextEncoder().encode(s));
  assert.equal(enc(""), "");
  assert.equal(enc("f"), "MY======");
  assert.equal(enc("fo"), "MZXQ====");
  assert.equal(enc("foo"), "MZXW6===");
  assert.equal(enc("foob"), "MZXW6YQ=");
  assert.equal(enc("fooba"), "MZXW6YTB");
  assert.equal(enc("foobar"), "MZXW6YTBOI======");
});

test("service chain hashes: the seed's and kube-proxy 1.28's own test vectors", () => {
  // docs/kube-proxy.md §2; the seed prints KUBE-SVC-7G2JV7LNOR6DDNIY for default/whereami (1.11).
  assert.equal(portProtoHash("default/whereami:", "tcp"), "7G2JV7LNOR6DDNIY");
  assert.equal(portProtoHash("default/whereami", "tcp"), "AYIUZSRKUWY4XTSW");
  assert.equal(portProtoHash("default/whereami:http", "tcp"), "3W6PU77I3FQETR76");
  // kube-proxy 1.28 proxier_test.go uses these names.
  assert.equal(portProtoHash("ns1/svc1:p80", "tcp"), "XPGD46QRK7WJZT7O");
  assert.equal(portProtoHash("ns2/svc2:p80", "tcp"), "GNZBNJ2PO5MGZ6GT");
});

test("endpoint chain hashes: the seed's KUBE-SEP names and 1.28's", () => {
  assert.equal(endpointHash("default/whereami:", "tcp", "10.13.76.26:80"), "6HBOEI5FVFTJNRJ3");
  assert.equal(endpointHash("default/whereami:", "tcp", "10.13.76.7:80"), "IJTMGMPNVALZGJZD");
  assert.equal(endpointHash("default/whereami:", "tcp", "10.13.76.15:80"), "SGJO6RZWDBFIJSTC");
  assert.equal(endpointHash("default/whereami:", "tcp", "10.13.76.30:80"), "YJDPB5HJYN7OEYYV");
  assert.equal(endpointHash("default/whereami:", "tcp", "10.13.76.60:80"), "L44TTCJMHMCUWYYB");
  assert.equal(endpointHash("default/whereami", "tcp", "10.13.76.26:80"), "DFEYLPIUB22CVTBE");
  assert.equal(endpointHash("default/whereami:http", "tcp", "10.13.76.26:80"), "5WJDLIJRGXXJBT5Q");
  assert.equal(endpointHash("ns1/svc1:p80", "tcp", "10.180.0.1:80"), "SXIVWICOYRO3J4NJ");
  assert.equal(endpointHash("ns4/svc4:p80", "tcp", "10.180.0.4:80"), "UKSFD7AGPMPPLUHC");
});
