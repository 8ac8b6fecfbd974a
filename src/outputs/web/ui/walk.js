// @ts-check
/**
 * A walk as steps: the request's hops, then the reply's (direct server return: the pod answers the
 * client straight through its node, not back through the load balancer). Renders the path picker,
 * the step list and the current step's card.
 */

/** @typedef {import("../../render/walk-json.ts").WalkReport} WalkReport */
/** @typedef {import("../../render/walk-json.ts").PathReport} PathReport */
/** @typedef {import("../../render/walk-json.ts").HopReport} HopReport */
/** @typedef {import("../../render/walk-json.ts").RuleRef} RuleRef */
/** @typedef {{ dir: "request" | "reply", n: number, hop: HopReport }} Step */

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string | null)[]} [children]
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null) e.append(c);
  return e;
}

/** @param {PathReport | undefined} path @returns {Step[]} */
export function stepsOf(path) {
  if (!path) return [];
  return [
    ...path.hops.map((hop, i) => /** @type {Step} */ ({ dir: "request", n: i + 1, hop })),
    ...(path.reply?.hops ?? []).map((hop, i) => /** @type {Step} */ ({ dir: "reply", n: i + 1, hop })),
  ];
}

/** The node a hop is on (a pod's place is `NODE/ns/name`), or null outside the cluster. @param {string} at */
export const nodeOf = (at) => at.split("/")[0] ?? at;

/** `1/2 → default/web-1 (10.13.76.26:80) on NODE, delivered` @param {PathReport} p */
export function pathSummary(p) {
  const to = p.pod ? `${p.pod}${p.endpoint ? ` (${p.endpoint})` : ""}` : (p.endpoint ?? "-");
  return `${to}${p.node ? ` on ${p.node}` : ""}: ${p.verdict}${p.reason ? ` (${p.reason})` : ""}`;
}

/**
 * The path picker: one radio per path with its exact probability.
 * @param {WalkReport} report
 * @param {number} chosen
 * @param {string} side
 * @param {(i: number) => void} onPick
 */
export function pathPicker(report, chosen, side, onPick) {
  const fs = h("fieldset", { class: "paths", "data-testid": `paths-${side}` }, [
    h("legend", {}, [
      report.paths.length === 1 ? "One path" : `${report.paths.length} paths (kube-proxy's random choice)`,
    ]),
  ]);
  report.paths.forEach((p, i) => {
    const id = `path-${side}-${i}`;
    const input = /** @type {HTMLInputElement} */ (
      h("input", {
        type: "radio",
        name: `path-${side}`,
        id,
        value: String(i),
        "data-testid": `path-${side}-${i + 1}`,
      })
    );
    input.checked = i === chosen;
    input.addEventListener("change", () => onPick(i));
    const pod = p.pod ? (p.pod.split("/").pop() ?? p.pod) : null;
    const short = [pod, p.endpoint, p.verdict].filter((x) => x).join(" · ");
    fs.append(
      h("div", { class: "path-choice" }, [
        input,
        h("label", { for: id, title: pathSummary(p) }, [
          h("span", { class: "prob", "data-testid": `prob-${side}-${i + 1}` }, [p.probabilityExact]),
          ` ${short}`,
        ]),
      ]),
    );
  });
  if (report.truncated) fs.append(h("p", { class: "warn" }, ["Too many paths: the list is cut short."]));
  return fs;
}

/**
 * The ordered list of steps, each a button that jumps to it.
 * @param {Step[]} steps
 * @param {number} current
 * @param {string} side
 * @param {(i: number) => void} onGo
 */
export function stepList(steps, current, side, onGo) {
  const ol = h("ol", { class: "step-list", "data-testid": `steps-${side}` });
  steps.forEach((s, i) => {
    const b = h(
      "button",
      { type: "button", class: `step-item ${s.dir}`, "data-testid": `step-${side}-${i + 1}` },
      [
        h("span", { class: "dir" }, [s.dir === "reply" ? "↩" : "→"]),
        ` ${s.hop.at}${s.hop.iface ? ` ${s.hop.iface}` : ""} `,
        h("span", { class: "action" }, [s.hop.action]),
        s.hop.rules.length
          ? h("span", { class: "badge", title: "iptables rules hit" }, [`${s.hop.rules.length}`])
          : null,
      ],
    );
    if (i === current) b.setAttribute("aria-current", "step");
    b.addEventListener("click", () => onGo(i));
    ol.append(h("li", {}, [b]));
  });
  return ol;
}

/**
 * `before → after` with the addresses that changed marked.
 * @param {string} before @param {string} after
 */
function addresses(before, after) {
  const a = before.split(" > ");
  const b = after.split(" > ");
  const part = (/** @type {string} */ x, /** @type {string | undefined} */ y) =>
    h("span", { class: x === y ? "" : "changed" }, [x]);
  const flow = (/** @type {string[]} */ mine, /** @type {string[]} */ other, /** @type {string} */ id) =>
    h("code", { "data-testid": id }, [part(mine[0] ?? "", other[0]), " > ", part(mine[1] ?? "", other[1])]);
  return h("p", { class: "addresses" }, [
    flow(a, b, "step-before"),
    h("span", { class: "arrow", "aria-label": "becomes" }, [" → "]),
    flow(b, a, "step-after"),
  ]);
}

/**
 * The current step's card: where, what it did, the addresses, the rules hit and conntrack.
 * @param {{ step: Step | undefined, index: number, total: number, path: PathReport | undefined,
 *   side: string, differs: (r: RuleRef) => boolean, onRule: (node: string, line: number) => void }} o
 */
export function stepCard(o) {
  const card = h("section", {
    class: "step-card",
    "data-testid": `step-card-${o.side}`,
    "aria-live": "polite",
  });
  const { step, path } = o;
  if (!step || !path) {
    card.append(h("p", { class: "muted" }, ["Send a packet to follow it hop by hop."]));
    return card;
  }
  const hop = step.hop;
  card.append(
    h("h3", { "data-testid": "step-title" }, [
      `Step ${o.index + 1} of ${o.total} · ${step.dir === "reply" ? "reply (direct server return)" : "request"}`,
    ]),
    h("dl", { class: "where" }, [
      h("dt", {}, ["At"]),
      h("dd", { "data-testid": "step-at" }, [hop.at]),
      h("dt", {}, ["Interface"]),
      h("dd", { "data-testid": "step-iface" }, [hop.iface ?? "-"]),
      h("dt", {}, ["Action"]),
      h("dd", { "data-testid": "step-action", class: `action-${hop.action}` }, [hop.action]),
    ]),
    addresses(hop.before, hop.after),
  );
  if (hop.note) card.append(h("p", { class: "note", "data-testid": "step-note" }, [hop.note]));
  if (step.dir === "request" && hop.action === "delivered" && path.sourceSeenByPod)
    card.append(
      h("p", { class: "pod-sees" }, [
        "The pod sees the client as ",
        h("strong", { "data-testid": `pod-sees-${o.side}` }, [path.sourceSeenByPod]),
      ]),
    );
  if (step.dir === "reply" && hop.action === "delivered" && path.reply?.sourceSeenByClient)
    card.append(
      h("p", { class: "pod-sees" }, [
        "The client sees the reply from ",
        h("strong", {}, [path.reply.sourceSeenByClient]),
      ]),
    );
  if (hop.rules.length) {
    const node = nodeOf(hop.at);
    const list = h("ol", { class: "rules", "data-testid": "step-rules" });
    for (const r of hop.rules) {
      const line =
        r.line === null
          ? h("span", { class: "line muted" }, ["-"])
          : h(
              "button",
              { type: "button", class: "link line", title: `Show line ${r.line} of iptables-save` },
              [String(r.line)],
            );
      if (r.line !== null) {
        const n = r.line;
        line.addEventListener("click", () => o.onRule(node, n));
      }
      const diff = o.differs(r);
      list.append(
        h(
          "li",
          { class: diff ? "differs" : "", "data-testid": r.line === null ? "rule" : `rule-${r.line}` },
          [
            h("div", { class: "rule-head" }, [
              line,
              diff ? h("span", { class: "diff-flag", title: "hit on this side only" }, ["≠"]) : null,
              h("span", { class: "table" }, [r.table]),
              h("span", { class: "chain" }, [r.chain]),
              h("span", { class: "effect" }, [`→ ${r.effect}`]),
            ]),
            h("code", {}, [r.rule]),
          ],
        ),
      );
    }
    card.append(h("h4", {}, [`iptables rules hit on ${node} (line: table chain → effect)`]), list);
  }
  if (hop.conntrack)
    card.append(
      h("div", { class: "conntrack" }, [
        h("h4", {}, ["Conntrack entry"]),
        h("code", { "data-testid": "step-conntrack" }, [hop.conntrack]),
      ]),
    );
  return card;
}
