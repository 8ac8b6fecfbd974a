/**
 * kubectl's AGE text. Up to 1.13 the printers used duration.ShortHumanDuration (one unit, rounded
 * down: `46m`, `11h`, `5d`; kubernetes pkg/printers/common.go, later
 * k8s.io/apimachinery/pkg/util/duration); later ones use duration.HumanDuration (two units while
 * small: `3m20s`, `5h4m`, `2d3h`). Which release switched is not pinned down in the sources read:
 * we take 1.14 (see the report).
 */

/** ShortHumanDuration of `seconds` (whole seconds, as Go's int(d.Seconds()) truncates). */
export function shortHumanDuration(seconds: number): string {
  const s = Math.trunc(seconds);
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 60) return `${s}s`;
  const minutes = Math.trunc(s / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.trunc(s / 3600);
  if (hours < 24) return `${hours}h`;
  if (hours < 24 * 365) return `${Math.trunc(hours / 24)}d`;
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** HumanDuration of `seconds`. */
export function humanDuration(seconds: number): string {
  const s = Math.trunc(seconds);
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 60 * 2) return `${s}s`;
  const minutes = Math.trunc(s / 60);
  if (minutes < 10) {
    const rest = s % 60;
    return rest === 0 ? `${minutes}m` : `${minutes}m${rest}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(s / 3600);
  if (hours < 8) {
    const rest = minutes % 60;
    return rest === 0 ? `${hours}h` : `${hours}h${rest}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const rest = hours % 24;
    return rest === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${rest}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.trunc(hours / 24) % 365;
    const years = Math.trunc(hours / 24 / 365);
    return days === 0 ? `${years}y` : `${years}y${days}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** AGE as the kubectl of Kubernetes minor version `minor` prints it. */
export function age(minor: number, seconds: number): string {
  return minor < 14 ? shortHumanDuration(seconds) : humanDuration(seconds);
}
