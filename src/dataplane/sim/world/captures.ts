import type { Capture, Frame } from "../../../model/frame.ts";

/** Every frame every interface carried, in order: what `tcpdump -i IFACE` on each would have seen. */
export class CaptureLog {
  private readonly byKey = new Map<string, { where: string; iface: string; frames: Frame[] }>();

  record(where: string, iface: string, frame: Frame): void {
    const key = `${where}\u0000${iface}`;
    let c = this.byKey.get(key);
    if (!c) {
      c = { where, iface, frames: [] };
      this.byKey.set(key, c);
    }
    c.frames.push(frame);
  }

  /** One interface's capture (empty if nothing crossed it). */
  get(where: string, iface: string): Capture {
    const c = this.byKey.get(`${where}\u0000${iface}`);
    return { where, iface, frames: c ? byTime(c.frames) : [] };
  }

  all(): Capture[] {
    return [...this.byKey.values()].map((c) => ({
      where: c.where,
      iface: c.iface,
      frames: byTime(c.frames),
    }));
  }
}

/** Time order, as tcpdump prints (a probe run before a frame may end after it); stable for ties. */
function byTime(frames: readonly Frame[]): Frame[] {
  return frames
    .map((f, i) => [f, i] as const)
    .sort((a, b) => a[0].time - b[0].time || a[1] - b[1])
    .map(([f]) => f);
}
