/**
 * Go's time.Time.String() for a UTC instant: `2006-01-02 15:04:05.999999999 -0700 MST`, fraction
 * trimmed of trailing zeros and left out when zero. kube-proxy's values also carry a monotonic
 * `m=+…` suffix; the twin has no process start time, so it is left out.
 */
export function goTime(epochSeconds: number): string {
  const whole = Math.floor(epochSeconds);
  const d = new Date(whole * 1000);
  const two = (n: number): string => String(n).padStart(2, "0");
  const date = `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}`;
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  const nanos = Math.round((epochSeconds - whole) * 1e9);
  const frac = nanos > 0 ? `.${String(nanos).padStart(9, "0").replace(/0+$/, "")}` : "";
  return `${date} ${time}${frac} +0000 UTC`;
}
