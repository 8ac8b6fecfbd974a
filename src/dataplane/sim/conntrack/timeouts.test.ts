import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DEFAULT_TIMEOUTS,
  KUBE_PROXY_TIMEOUTS,
  TIMEOUT_SYSCTLS,
  tcpStateTimeout,
  withTimeouts,
} from "./timeouts.ts";

test("kernel defaults in seconds", () => {
  const t = DEFAULT_TIMEOUTS;
  assert.deepEqual(
    [t.tcpSynSent, t.tcpSynRecv, t.tcpEstablished, t.tcpFinWait, t.tcpCloseWait, t.tcpLastAck],
    [120, 60, 5 * 24 * 3600, 120, 60, 30],
  );
  assert.deepEqual(
    [t.tcpTimeWait, t.tcpClose, t.tcpSynSent2, t.tcpMaxRetrans, t.tcpUnacknowledged],
    [120, 10, 120, 300, 300],
  );
  assert.deepEqual([t.udpUnreplied, t.udpStream, t.icmp, t.icmpv6, t.generic], [30, 120, 30, 30, 600]);
});

test("overrides apply in order and leave the defaults untouched", () => {
  const kube = withTimeouts(KUBE_PROXY_TIMEOUTS);
  assert.equal(kube.tcpEstablished, 86400);
  assert.equal(kube.tcpCloseWait, 3600);
  assert.equal(kube.tcpTimeWait, 120);
  const both = withTimeouts(KUBE_PROXY_TIMEOUTS, { tcpCloseWait: 60, udpStream: 180 });
  assert.equal(both.tcpCloseWait, 60);
  assert.equal(both.udpStream, 180);
  assert.equal(both.tcpEstablished, 86400);
  assert.equal(DEFAULT_TIMEOUTS.tcpEstablished, 432000);
  assert.deepEqual(withTimeouts(), DEFAULT_TIMEOUTS);
  assert.throws(() => withTimeouts({ icmp: -1 }), /Cannot set conntrack timeout icmp/);
  assert.throws(() => withTimeouts({ icmp: 1.5 }), RangeError);
});

test("each TCP state maps to its own timeout", () => {
  const t = withTimeouts(KUBE_PROXY_TIMEOUTS);
  assert.equal(tcpStateTimeout(t, "ESTABLISHED"), 86400);
  assert.equal(tcpStateTimeout(t, "CLOSE_WAIT"), 3600);
  assert.equal(tcpStateTimeout(t, "SYN_SENT2"), 120);
  assert.equal(tcpStateTimeout(t, "CLOSE"), 10);
});

test("every timeout names its sysctl except SYN_SENT2, which has none", () => {
  assert.deepEqual(Object.keys(TIMEOUT_SYSCTLS).sort(), Object.keys(DEFAULT_TIMEOUTS).sort());
  const missing = Object.entries(TIMEOUT_SYSCTLS).filter(([, name]) => name === null);
  assert.deepEqual(missing, [["tcpSynSent2", null]]);
});
