// @ts-check
/**
 * The tabbed panels under the drawing: the node's iptables-save (the walk's rules highlighted by
 * line), conntrack -L after the walk, the captures (a pcap per interface), and the scenario editor.
 */

import { h } from "./walk.js";

/** @typedef {import("./api.js").Capture} Capture */
/** @typedef {{ message: string, line: number | null, column: number | null }} Diagnostic */

/**
 * Wires a WAI-ARIA tab list: click and arrow keys switch panels.
 * @param {HTMLElement} list the [role=tablist] element
 * @param {(name: string) => void} onShow
 */
export function tabs(list, onShow) {
  const all = /** @type {HTMLButtonElement[]} */ ([...list.querySelectorAll("[role=tab]")]);
  const show = (/** @type {HTMLButtonElement} */ tab, /** @type {boolean} */ focus) => {
    for (const t of all) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      const panel = document.getElementById(t.getAttribute("aria-controls") ?? "");
      if (panel) panel.hidden = !on;
    }
    if (focus) tab.focus();
    onShow(tab.dataset.tab ?? "");
  };
  all.forEach((t, i) => {
    t.addEventListener("click", () => show(t, false));
    t.addEventListener("keydown", (e) => {
      const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (d === 0) return;
      e.preventDefault();
      e.stopPropagation();
      show(/** @type {HTMLButtonElement} */ (all[(i + d + all.length) % all.length]), true);
    });
  });
  return {
    /** @param {string} name */
    select(name) {
      const t = all.find((x) => x.dataset.tab === name);
      if (t) show(t, false);
    },
    current: () => all.find((t) => t.getAttribute("aria-selected") === "true")?.dataset.tab ?? "",
  };
}

/**
 * `iptables-save` with line numbers; the walk's rules (`hit`) and the current step's (`now`) marked.
 * @param {HTMLElement} target
 * @param {string} text
 * @param {ReadonlySet<number>} hit
 * @param {ReadonlySet<number>} now
 */
export function showIptables(target, text, hit, now) {
  const lines = text.replace(/\n$/, "").split("\n");
  const ol = h("ol", { class: "listing", "data-testid": "iptables-lines" });
  lines.forEach((l, i) => {
    const n = i + 1;
    const cls = [
      "ipt-line",
      hit.has(n) ? "hit" : "",
      now.has(n) ? "now" : "",
      l.startsWith("*") ? "table" : "",
    ];
    const li = h(
      "li",
      { class: cls.join(" ").trim(), "data-testid": `ipt-line-${n}`, "data-line": String(n) },
      [h("code", {}, [l || " "])],
    );
    if (hit.has(n))
      li.setAttribute("aria-label", `line ${n}, hit by the walk${now.has(n) ? " at this step" : ""}`);
    ol.append(li);
  });
  target.replaceChildren(ol);
}

/** Scrolls a listing so a line is in view and flashes it. @param {HTMLElement} target @param {number} line */
export function revealLine(target, line) {
  const li = target.querySelector(`[data-line="${line}"]`);
  if (!(li instanceof HTMLElement)) return;
  li.scrollIntoView({ block: "center" });
  li.classList.remove("flash");
  void li.offsetWidth;
  li.classList.add("flash");
}

/**
 * The captures of one path: where, interface, frames, and the pcap's download link.
 * @param {HTMLElement} target
 * @param {Capture[]} captures
 * @param {number} path 1-based
 */
export function showCaptures(target, captures, path) {
  const mine = captures.filter((c) => c.path === path);
  if (mine.length === 0) {
    target.replaceChildren(h("p", { class: "muted" }, ["No captures: send a packet first."]));
    return;
  }
  const rows = mine.map((c) => {
    const file = `${c.where}-${c.iface}.pcap`.replace(/[^A-Za-z0-9._-]+/g, "_");
    return h("tr", {}, [
      h("td", {}, [c.where]),
      h("td", {}, [c.iface]),
      h("td", { class: "num" }, [String(c.frames)]),
      h("td", {}, [
        h("a", { href: c.url, download: file, "data-testid": `pcap-${c.where}|${c.iface}` }, [
          `Download ${file}`,
        ]),
      ]),
    ]);
  });
  target.replaceChildren(
    h("table", { class: "captures", "data-testid": "captures" }, [
      h("caption", {}, [`Each interface the packets of path ${path} crossed, as a pcap (tcpdump -w)`]),
      h("thead", {}, [
        h(
          "tr",
          {},
          ["Where", "Interface", "Frames", "pcap"].map((t) => h("th", { scope: "col" }, [t])),
        ),
      ]),
      h("tbody", {}, rows),
    ]),
  );
}

/**
 * The scenario editor's line gutter, the lines with an error marked.
 * @param {HTMLElement} gutter
 * @param {HTMLTextAreaElement} area
 * @param {readonly Diagnostic[]} diagnostics
 */
export function showGutter(gutter, area, diagnostics) {
  const bad = new Map();
  for (const d of diagnostics) if (d.line !== null) bad.set(d.line, [...(bad.get(d.line) ?? []), d.message]);
  const count = Math.max(1, area.value.split("\n").length);
  const frag = document.createDocumentFragment();
  for (let n = 1; n <= count; n++) {
    const err = bad.get(n);
    const div = h("div", { class: err ? "err" : "", "data-testid": `gutter-line-${n}` }, [
      err ? `! ${n}` : String(n),
    ]);
    if (err) div.title = err.join("\n");
    frag.append(div);
  }
  gutter.replaceChildren(frag);
  gutter.scrollTop = area.scrollTop;
}

/**
 * The scenario's errors as a list; each one selects its line in the editor.
 * @param {HTMLElement} target
 * @param {HTMLTextAreaElement} area
 * @param {string} summary
 * @param {readonly Diagnostic[]} diagnostics
 */
export function showScenarioErrors(target, area, summary, diagnostics) {
  const list = h("ul", {});
  for (const d of diagnostics) {
    const where = d.line === null ? "" : `line ${d.line}${d.column === null ? "" : `, column ${d.column}`}: `;
    const b = h(
      "button",
      { type: "button", class: "link", "data-testid": `scenario-error-${d.line ?? "none"}` },
      [`${where}${d.message}`],
    );
    const line = d.line;
    if (line !== null) b.addEventListener("click", () => selectLine(area, line));
    list.append(h("li", {}, [b]));
  }
  target.replaceChildren(h("p", { class: "error-summary" }, [summary]), list);
  target.hidden = false;
}

/** Selects a 1-based line of a textarea and scrolls to it. @param {HTMLTextAreaElement} area @param {number} line */
export function selectLine(area, line) {
  const lines = area.value.split("\n");
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += (lines[i]?.length ?? 0) + 1;
  const end = start + (lines[line - 1]?.length ?? 0);
  area.focus();
  area.setSelectionRange(start, end);
  const lh = Number.parseFloat(getComputedStyle(area).lineHeight) || 18;
  area.scrollTop = Math.max(0, (line - 3) * lh);
}
