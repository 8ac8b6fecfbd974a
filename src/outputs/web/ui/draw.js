// @ts-check
/**
 * The topology as SVG: boxes by kind, labels at the layout's font size, edges as polylines, and the
 * packet (a dot) that moves from box to box. Box ids follow contract.ts: a hop at `at` on `iface`
 * lights `at|iface`, else `at`.
 */

/** @typedef {import("../contract.ts").Layout} Layout */
/** @typedef {import("../contract.ts").LayoutBox} LayoutBox */
/** @typedef {import("../contract.ts").LayoutEdge} LayoutEdge */

const SVG = "http://www.w3.org/2000/svg";
const MIN_ZOOM = 0.25;
const MAX_ZOOM = 4;

/**
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @returns {SVGElement}
 */
function el(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** @param {LayoutBox} b */
const center = (b) => ({ x: b.x + b.w / 2, y: b.y + b.h / 2 });

const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;

export class Diagram {
  /**
   * @param {HTMLElement} host the scrollable container the SVG is drawn in
   * @param {Layout} layout
   * @param {string} title the SVG's accessible name
   */
  constructor(host, layout, title) {
    this.host = host;
    this.layout = layout;
    /** @type {Map<string, LayoutBox>} */
    this.boxes = new Map(layout.boxes.map((b) => [b.id, b]));
    /** @type {Map<string, SVGElement>} */
    this.boxEls = new Map();
    /** @type {Map<string, SVGElement>} */
    this.edgeEls = new Map();
    this.zoom = 1;
    /** @type {string | null} */
    this.packetAt = null;
    this.svg = /** @type {SVGSVGElement} */ (
      el("svg", { viewBox: `0 0 ${layout.width} ${layout.height}`, role: "img", "aria-label": title })
    );
    this.svg.style.setProperty("--font-size", `${layout.fontSize}px`);
    this.draw();
    host.replaceChildren(this.svg);
    this.fit();
  }

  draw() {
    const { layout } = this;
    const parents = new Set(layout.boxes.map((b) => b.parent).filter((p) => p !== null));
    const containers = el("g", { class: "containers" });
    const edges = el("g", { class: "edges" });
    const leaves = el("g", { class: "leaves" });
    this.markers = el("g", { class: "markers" });
    // Containers (VNet, subnet, node) under the edges, the boxes that ends attach to above them.
    for (const b of [...layout.boxes].sort((a, c) => this.depth(a) - this.depth(c)))
      (parents.has(b.id) ? containers : leaves).append(this.drawBox(b, parents.has(b.id)));
    for (const e of layout.edges) {
      const line = el("polyline", {
        class: `edge edge-${e.kind}`,
        points: e.points.map((p) => `${p.x},${p.y}`).join(" "),
        "data-testid": `edge-${e.id}`,
      });
      this.edgeEls.set(e.id, line);
      edges.append(line);
    }
    const r = Math.max(5, layout.fontSize * 0.55);
    this.packet = el("g", { class: "packet", "data-testid": "packet", visibility: "hidden" });
    this.packet.append(el("circle", { r, cx: 0, cy: 0 }));
    this.svg.append(containers, edges, leaves, this.markers, this.packet);
  }

  /** @param {LayoutBox} b */
  depth(b) {
    let d = 0;
    for (let p = b.parent; p !== null && d < 20; p = this.boxes.get(p)?.parent ?? null) d++;
    return d;
  }

  /**
   * @param {LayoutBox} b
   * @param {boolean} container labels at the top-left instead of centred
   */
  drawBox(b, container) {
    const fs = this.layout.fontSize;
    const g = el("g", {
      class: `box box-${b.kind}${container ? " container" : ""}`,
      "data-testid": `box-${b.id}`,
    });
    g.dataset.id = b.id;
    const title = el("title");
    title.textContent = b.sublabel ? `${b.label}\n${b.sublabel}` : b.label;
    g.append(title, el("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: container ? 6 : 4 }));
    const lines = [b.label, b.sublabel].filter((t) => t);
    const lineH = fs * 1.2;
    lines.forEach((t, i) => {
      const text = container
        ? el("text", { x: b.x + 6, y: b.y + fs + 3 + i * lineH })
        : el("text", {
            x: b.x + b.w / 2,
            y: b.y + b.h / 2 + (i - (lines.length - 1) / 2) * lineH,
            "text-anchor": "middle",
            "dominant-baseline": "middle",
          });
      text.setAttribute("class", i === 0 ? "label" : "sublabel");
      text.textContent = t ?? "";
      g.append(text);
    });
    this.boxEls.set(b.id, g);
    return g;
  }

  /**
   * The box a hop lights: `at|iface`, else the one interface of that name under `at` (a pod's host
   * veth may be drawn at the pod), else `at`; null when the layout has none of them.
   * @param {string} at
   * @param {string | null} iface
   * @returns {string | null}
   */
  boxFor(at, iface) {
    if (iface !== null) {
      if (this.boxes.has(`${at}|${iface}`)) return `${at}|${iface}`;
      const alike = this.layout.boxes.filter((b) => b.id.endsWith(`|${iface}`) && b.id.startsWith(at));
      if (alike.length === 1) return alike[0]?.id ?? null;
    }
    return this.boxes.has(at) ? at : null;
  }

  /** @param {string} id @returns {string[]} the box and its ancestors, innermost first */
  chain(id) {
    const out = [];
    for (
      let b = this.boxes.get(id);
      b && out.length < 20;
      b = b.parent ? this.boxes.get(b.parent) : undefined
    )
      out.push(b.id);
    return out;
  }

  /**
   * The edge between two boxes (or their nearest ancestors), with whether it runs `to` → `from`.
   * @param {string} a @param {string} b
   * @returns {{ edge: LayoutEdge, reversed: boolean } | null}
   */
  edgeBetween(a, b) {
    const ca = this.chain(a);
    const cb = this.chain(b);
    for (const x of ca)
      for (const y of cb)
        for (const e of this.layout.edges) {
          if (e.from === x && e.to === y) return { edge: e, reversed: false };
          if (e.from === y && e.to === x) return { edge: e, reversed: true };
        }
    return null;
  }

  /**
   * Lights the boxes and edges of a whole path (a list of box ids, in order) and the current one.
   * @param {(string | null)[]} route
   * @param {number} current index into route
   */
  showRoute(route, current) {
    for (const g of this.boxEls.values()) g.classList.remove("on-path", "current");
    for (const e of this.edgeEls.values()) e.classList.remove("on-path");
    const ids = route.filter((r) => r !== null);
    for (const id of ids) this.boxEls.get(id)?.classList.add("on-path");
    for (let i = 1; i < ids.length; i++) {
      const a = ids[i - 1];
      const b = ids[i];
      const found = a === undefined || b === undefined || a === b ? null : this.edgeBetween(a, b);
      if (found) this.edgeEls.get(found.edge.id)?.classList.add("on-path");
    }
    const id = route[current] ?? null;
    if (id !== null) {
      const g = this.boxEls.get(id);
      g?.classList.add("current");
      g?.setAttribute("aria-current", "step");
    }
    for (const g of this.boxEls.values()) if (g.dataset.id !== id) g.removeAttribute("aria-current");
    this.movePacket(id);
  }

  /** Hides the packet and clears the route. */
  clearRoute() {
    this.showRoute([], -1);
  }

  /**
   * Moves the dot to a box: along the edge between the two boxes when there is one.
   * @param {string | null} id
   */
  movePacket(id) {
    const g = /** @type {SVGGElement} */ (this.packet);
    const from = this.packetAt;
    this.packetAt = id;
    const box = id === null ? undefined : this.boxes.get(id);
    if (!box) {
      g.setAttribute("visibility", "hidden");
      return;
    }
    const to = center(box);
    const prev = from === null ? undefined : this.boxes.get(from);
    g.setAttribute("visibility", "visible");
    g.style.transform = `translate(${to.x}px, ${to.y}px)`;
    g.dataset.at = box.id;
    if (!prev || prev.id === box.id || reducedMotion()) return;
    const found = this.edgeBetween(prev.id, box.id);
    const mid = found ? (found.reversed ? [...found.edge.points].reverse() : [...found.edge.points]) : [];
    const pts = [center(prev), ...mid, to];
    for (const a of g.getAnimations()) a.cancel();
    g.animate(
      pts.map((p) => ({ transform: `translate(${p.x}px, ${p.y}px)` })),
      { duration: 350, easing: "ease-in-out" },
    );
    this.scrollTo(box);
  }

  /** Scrolls the container so a box is in view. @param {LayoutBox} b */
  scrollTo(b) {
    const h = this.host;
    const x = b.x * this.zoom;
    const y = b.y * this.zoom;
    const w = b.w * this.zoom;
    const hh = b.h * this.zoom;
    if (x < h.scrollLeft || x + w > h.scrollLeft + h.clientWidth) h.scrollLeft = x - h.clientWidth / 3;
    if (y < h.scrollTop || y + hh > h.scrollTop + h.clientHeight) h.scrollTop = y - h.clientHeight / 3;
  }

  /**
   * A difference marker (≠) at a box's top-right corner, with a tooltip.
   * @param {string} id
   * @param {string} text
   */
  mark(id, text) {
    const b = this.boxes.get(id);
    if (!b || !this.markers) return;
    const fs = this.layout.fontSize;
    const g = el("g", { class: "diff-marker", "data-testid": `marker-${id}` });
    const t = el("title");
    t.textContent = text;
    const r = fs * 0.8;
    g.append(
      t,
      el("circle", { cx: b.x + b.w - r / 2, cy: b.y + r / 2, r }),
      el("text", {
        x: b.x + b.w - r / 2,
        y: b.y + r / 2,
        "text-anchor": "middle",
        "dominant-baseline": "central",
      }),
    );
    /** @type {Element} */ (g.lastChild).textContent = "≠";
    this.markers.append(g);
    this.boxEls.get(id)?.classList.add("differs");
  }

  clearMarks() {
    this.markers?.replaceChildren();
    for (const g of this.boxEls.values()) g.classList.remove("differs");
  }

  /** @param {number} z */
  setZoom(z) {
    this.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));
    this.svg.setAttribute("width", String(Math.round(this.layout.width * this.zoom)));
    this.svg.setAttribute("height", String(Math.round(this.layout.height * this.zoom)));
    this.host.dataset.zoom = this.zoom.toFixed(2);
  }

  /** Scales the drawing to the container's width (never above 1.5x). */
  fit() {
    const w = this.host.clientWidth - 2;
    this.setZoom(w > 0 ? Math.min(1.5, w / this.layout.width) : 1);
  }
}
