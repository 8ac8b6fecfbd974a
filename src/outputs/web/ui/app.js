// @ts-check
/**
 * packetwalk's page: draws the twin, sends a packet and steps it hop by hop, compares two twins,
 * shows the node's iptables-save, conntrack and captures, and edits the scenario.
 */

import * as api from "./api.js";
import { Diagram } from "./draw.js";
import {
  revealLine,
  selectLine,
  showCaptures,
  showGutter,
  showIptables,
  showScenarioErrors,
  tabs,
} from "./panels.js";
import { h, nodeOf, pathPicker, stepCard, stepList, stepsOf } from "./walk.js";

/** @typedef {import("../contract.ts").TwinResponse} TwinResponse */
/** @typedef {import("../../render/walk-json.ts").RuleRef} RuleRef */
/** @typedef {import("../../render/walk-json.ts").WalkReport} WalkReport */
/** @typedef {import("./api.js").Side} Side */
/** @typedef {import("./api.js").Walk} Walk */
/** @typedef {import("./api.js").Difference} Difference */
/** @typedef {{ twin: TwinResponse | null, diagram: Diagram | null, walk: Walk | null, path: number }} SideState */

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing from index.html`);
  return e;
};
const input = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id));
const button = (/** @type {string} */ id) => /** @type {HTMLButtonElement} */ ($(id));

const state = {
  compare: false,
  /** @type {Record<Side, SideState>} */
  sides: {
    main: { twin: null, diagram: null, walk: null, path: 0 },
    compare: { twin: null, diagram: null, walk: null, path: 0 },
  },
  step: 0,
  /** @type {Difference[]} */
  differences: [],
  /** Rules (normalised) hit on one side only, by side. @type {Record<Side, Set<string>>} */
  onlyHere: { main: new Set(), compare: new Set() },
  defaults: { from: "", to: "" },
  /** iptables-save texts by `side|node`; emptied when a twin changes. @type {Map<string, string>} */
  saves: new Map(),
  /** conntrack -L texts by `walk|path|node` (a walk never changes). @type {Map<string, string>} */
  conntracks: new Map(),
  /** Bumped by each panel refresh, so a late answer does not overwrite a newer one. */
  panelToken: 0,
  /** The drawings follow the window's width until the user zooms. */
  zoomed: false,
};

/** @type {Side[]} */
const SIDES = ["main", "compare"];
const activeSides = () => (state.compare ? SIDES : /** @type {Side[]} */ (["main"]));

/** @param {string} text @param {"info" | "error"} [kind] */
function status(text, kind = "info") {
  const s = $("status");
  s.textContent = text;
  s.className = kind;
}

/** @param {unknown} e */
const message = (e) => (e instanceof Error ? e.message : String(e));

// ---- the twins ----

/** Draws a side's twin. @param {Side} side @param {TwinResponse} twin */
function showTwin(side, twin) {
  const s = state.sides[side];
  s.twin = twin;
  s.walk = null;
  s.path = 0;
  $(`title-${side}`).textContent = `${side === "main" ? "Main" : "Compared"}: ${twin.topology.scenario}`;
  s.diagram = new Diagram($(`canvas-${side}`), twin.layout, `Topology of ${twin.topology.scenario}`);
  for (const k of [...state.saves.keys()]) if (k.startsWith(`${side}|`)) state.saves.delete(k);
  if (side === "main") setDefaults(twin);
  if (side === "compare") {
    input("compare-toggle").disabled = false;
    $("compare-name").textContent = twin.topology.scenario;
  }
  updateZoomLabel();
}

/** The form's defaults: the scenario's internet host, the first LoadBalancer VIP:port. @param {TwinResponse} twin */
function setDefaults(twin) {
  const t = twin.topology;
  const host = t.hosts.find((x) => x.kind === "internet") ?? t.hosts[0];
  const lb = t.services.find((s) => s.type === "LoadBalancer" && s.loadBalancerIps.length > 0);
  state.defaults = {
    from: host?.name ?? "",
    to: lb ? `${lb.loadBalancerIps[0]}:${lb.ports[0]?.port ?? 80}` : "",
  };
  input("from").value = state.defaults.from;
  input("to").value = state.defaults.to;
  /** @param {string} id @param {[string, string][]} items */
  const fill = (id, items) =>
    $(id).replaceChildren(...items.map(([v, label]) => h("option", { value: v, label }, [])));
  fill("from-list", [
    ...t.hosts.map((x) => /** @type {[string, string]} */ ([x.name, `${x.kind} host ${x.ip}`])),
    ...t.nodes.map((n) => /** @type {[string, string]} */ ([n.name, `node ${n.ip}`])),
    ...t.nodes.flatMap((n) => n.pods.map((p) => /** @type {[string, string]} */ ([p.name, `pod ${p.ip}`]))),
  ]);
  fill(
    "to-list",
    t.services.flatMap((s) =>
      s.ports.flatMap((p) => [
        ...s.loadBalancerIps.map(
          (ip) => /** @type {[string, string]} */ ([`${ip}:${p.port}`, `${s.name} VIP`]),
        ),
        /** @type {[string, string]} */ ([`${s.clusterIp}:${p.port}`, `${s.name} ClusterIP`]),
      ]),
    ),
  );
}

// ---- walking ----

/** The walk request: a field left at its default is not sent, so each twin uses its own. */
function request() {
  const from = input("from").value.trim();
  const to = input("to").value.trim();
  const proto = /** @type {HTMLSelectElement} */ ($("proto")).value;
  /** @type {import("./api.js").WalkRequest} */
  const req = { proto };
  if (from && from !== state.defaults.from) req.from = from;
  if (to && to !== state.defaults.to) req.to = to;
  return req;
}

async function send() {
  const sendButton = button("send");
  sendButton.disabled = true;
  status("Sending…");
  try {
    if (state.compare) {
      const r = await api.postCompare(request());
      state.sides.main.walk = r.main;
      state.sides.compare.walk = r.compare;
      state.differences = r.differences;
    } else {
      state.sides.main.walk = await api.postWalk({ ...request(), side: "main" });
      state.sides.compare.walk = null;
      state.differences = [];
    }
    for (const s of SIDES) state.sides[s].path = 0;
    computeOnlyHere();
    state.step = 0;
    const r = /** @type {Walk} */ (state.sides.main.walk).report;
    status(
      `${r.from} → ${r.to} (${r.proto}): ${r.verdict}, ${r.paths.length} path${r.paths.length === 1 ? "" : "s"}`,
    );
    render();
    $("step-next").focus();
  } catch (e) {
    status(message(e), "error");
  } finally {
    sendButton.disabled = false;
  }
}

/** A rule as compared across twins: endpoints' chains and addresses set aside. @param {RuleRef} r */
const ruleKey = (r) =>
  `${r.table} ${r.rule}`
    .replace(/KUBE-SEP-[A-Z0-9]+/g, "KUBE-SEP-*")
    .replace(/\d+\.\d+\.\d+\.\d+(\/\d+)?/g, "IP");

/** @param {WalkReport} r */
const rulesOf = (r) =>
  new Set(
    r.paths.flatMap((p) =>
      p.hops.flatMap((x) => x.rules.filter((y) => !y.chain.startsWith("KUBE-SEP-")).map(ruleKey)),
    ),
  );

function computeOnlyHere() {
  const a = state.sides.main.walk?.report;
  const b = state.sides.compare.walk?.report;
  state.onlyHere = { main: new Set(), compare: new Set() };
  if (!a || !b) return;
  const ra = rulesOf(a);
  const rb = rulesOf(b);
  state.onlyHere = {
    main: new Set([...ra].filter((k) => !rb.has(k))),
    compare: new Set([...rb].filter((k) => !ra.has(k))),
  };
}

/** @param {Side} side */
const stepsFor = (side) => stepsOf(state.sides[side].walk?.report.paths[state.sides[side].path]);
const stepCount = () => Math.max(0, ...activeSides().map((s) => stepsFor(s).length));
/** The side's own step: both sides step together, a shorter walk stays at its end. @param {Side} side */
const stepOf = (side) => Math.min(state.step, stepsFor(side).length - 1);

/** @param {number} i */
function go(i) {
  const n = stepCount();
  if (n === 0) return;
  state.step = Math.max(0, Math.min(n - 1, i));
  render();
}

function render() {
  const n = stepCount();
  for (const side of SIDES) {
    const s = state.sides[side];
    const target = $(`walk-${side}`);
    const on = side === "main" || state.compare;
    target.hidden = !on;
    if (!on) continue;
    const steps = stepsFor(side);
    const i = stepOf(side);
    const d = s.diagram;
    if (d) {
      d.clearMarks();
      if (s.walk && s.twin)
        d.showRoute(
          steps.map((st) => d.boxFor(st.hop.at, st.hop.iface)),
          i,
        );
      else d.clearRoute();
    }
    const report = s.walk?.report;
    const path = report?.paths[s.path];
    target.replaceChildren(
      ...(state.compare
        ? [
            h("h3", { class: "side-name" }, [
              `${side === "main" ? "Main" : "Compared"}: ${s.twin?.topology.scenario ?? "-"}`,
            ]),
          ]
        : []),
      ...(report
        ? [
            pathPicker(report, s.path, side, (p) => {
              s.path = p;
              render();
            }),
          ]
        : []),
      stepCard({
        step: steps[i],
        index: i,
        total: steps.length,
        path,
        side,
        differs: (r) => state.onlyHere[side].has(ruleKey(r)),
        onRule: (node, line) => showRule(side, node, line),
      }),
      ...(report && path
        ? [
            h("details", { class: "all-steps", open: "" }, [
              h("summary", {}, ["All steps"]),
              stepList(steps, i, side, (k) => go(k)),
            ]),
          ]
        : []),
    );
  }
  markDifferences();
  $("step-count").textContent = n ? `Step ${state.step + 1} of ${n}` : "No packet yet";
  for (const [id, off] of /** @type {[string, boolean][]} */ ([
    ["step-first", n === 0 || state.step === 0],
    ["step-prev", n === 0 || state.step === 0],
    ["step-next", n === 0 || state.step >= n - 1],
    ["step-last", n === 0 || state.step >= n - 1],
  ]))
    button(id).disabled = off;
  refreshPanel();
}

// ---- comparison ----

/** The differences list, and a ≠ marker on the boxes they are about, on both drawings. */
function markDifferences() {
  const box = $("differences");
  box.hidden = !state.compare || state.differences.length === 0;
  if (box.hidden) return;
  const list = h("ul", {});
  for (const d of state.differences) {
    const key = `${d.field}${d.path === null ? "" : `-${d.path}`}${d.chain ? `-${d.chain.name}` : ""}`;
    const value = (/** @type {string | null} */ v, /** @type {string} */ cls) =>
      h("span", { class: `value ${cls}` }, [
        v === null ? "—" : d.field === "chain" ? `${v.split("\n").length} rule(s)` : v,
      ]);
    list.append(
      h("li", { class: "diff", "data-testid": `diff-${key}` }, [
        h("span", { class: "diff-flag", "aria-hidden": "true" }, ["≠"]),
        ` ${d.label}: `,
        value(d.main, "main"),
        h("span", { class: "vs" }, [" vs "]),
        value(d.compare, "compare"),
      ]),
    );
    for (const side of SIDES) {
      const s = state.sides[side];
      const p = d.path === null ? undefined : s.walk?.report.paths[d.path - 1];
      const target =
        d.field === "probe"
          ? "azure-lb"
          : (d.field === "sourceSeenByPod" || d.field === "endpoint") && p?.pod && p.node
            ? `${p.node}/${p.pod}`
            : d.field === "chain"
              ? (s.walk?.report.paths[s.path]?.node ?? null)
              : null;
      if (target && s.diagram?.boxes.has(target))
        s.diagram.mark(target, `${d.label}: ${d.main ?? "—"} vs ${d.compare ?? "—"}`);
    }
  }
  box.replaceChildren(h("h2", {}, [`What differs (${state.differences.length})`]), list);
}

/** @param {boolean} on */
async function setCompare(on) {
  state.compare = on;
  document.body.classList.toggle("comparing", on);
  $("side-compare").hidden = !on;
  /** @type {HTMLSelectElement} */ ($("ipt-side")).disabled = !on;
  if (!on) /** @type {HTMLSelectElement} */ ($("ipt-side")).value = "main";
  for (const s of SIDES) state.sides[s].diagram?.fit();
  updateZoomLabel();
  // Walk both twins as soon as the comparison is on, when a packet was sent.
  if (on && state.sides.main.walk && !state.sides.compare.walk) await send();
  else render();
}

// ---- panels ----

let panelTabs = { select: (/** @type {string} */ _n) => {}, current: () => "iptables" };

/** The side and node the panels show: the iptables panel's side, the node of its current step. */
function panelTarget() {
  const side = /** @type {Side} */ (
    state.compare ? /** @type {HTMLSelectElement} */ ($("ipt-side")).value : "main"
  );
  const s = state.sides[side];
  const nodes = s.twin?.topology.nodes.map((n) => n.name) ?? [];
  const steps = stepsFor(side);
  const at = steps[stepOf(side)]?.hop.at;
  const here = at === undefined ? undefined : nodeOf(at);
  const path = s.walk?.report.paths[s.path];
  const node = here && nodes.includes(here) ? here : (path?.node ?? nodes[0] ?? null);
  return { side, s, node, steps, path };
}

async function refreshPanel() {
  const token = ++state.panelToken;
  const tab = panelTabs.current();
  const { side, s, node, steps } = panelTarget();
  if (tab === "iptables") {
    const body = $("ipt-body");
    if (!node) return;
    $("ipt-title").textContent = `iptables-save on ${node} (${s.twin?.topology.scenario ?? side})`;
    const key = `${side}|${node}`;
    let text = state.saves.get(key);
    if (text === undefined) {
      try {
        text = (await api.getIptablesSave(node, side)).text;
        state.saves.set(key, text);
      } catch (e) {
        if (token === state.panelToken) body.replaceChildren(h("p", { class: "error" }, [message(e)]));
        return;
      }
    }
    if (token !== state.panelToken) return;
    const onNode = steps.filter((st) => nodeOf(st.hop.at) === node);
    const lines = (/** @type {typeof steps} */ list) =>
      new Set(list.flatMap((st) => st.hop.rules.map((r) => r.line).filter((l) => l !== null)));
    const current = steps[stepOf(side)];
    const now = current && nodeOf(current.hop.at) === node ? lines([current]) : new Set();
    showIptables(body, text, lines(onNode), now);
    const first = [...now][0];
    if (first !== undefined) revealLine(body, first);
  } else if (tab === "conntrack") {
    const body = $("conntrack-body");
    const w = s.walk;
    if (!w || !node) {
      body.replaceChildren(
        h("p", { class: "muted" }, ["Send a packet to see the conntrack table after it."]),
      );
      return;
    }
    $("conntrack-title").textContent =
      `conntrack -L on ${node} after path ${s.path + 1} (${s.twin?.topology.scenario ?? side})`;
    try {
      const key = `${w.id}|${s.path + 1}|${node}`;
      const text = state.conntracks.get(key) ?? (await api.getConntrack(w.id, s.path + 1, node)).text;
      state.conntracks.set(key, text);
      if (token === state.panelToken)
        body.replaceChildren(h("pre", { "data-testid": "conntrack-text" }, [text || "(empty)"]));
    } catch (e) {
      if (token === state.panelToken) body.replaceChildren(h("p", { class: "error" }, [message(e)]));
    }
  } else if (tab === "captures") {
    const body = $("captures-body");
    showCaptures(body, s.walk?.captures ?? [], s.path + 1);
  }
}

/** Opens the iptables panel at a rule's line. @param {Side} side @param {string} node @param {number} line */
async function showRule(side, node, line) {
  if (state.compare) /** @type {HTMLSelectElement} */ ($("ipt-side")).value = side;
  panelTabs.select("iptables");
  await refreshPanel();
  if (panelTarget().node === node) revealLine($("ipt-body"), line);
}

// ---- scenario editing ----

async function applyScenario() {
  const area = /** @type {HTMLTextAreaElement} */ ($("scenario-text"));
  const side = /** @type {Side} */ (/** @type {HTMLSelectElement} */ ($("scenario-side")).value);
  const errors = $("scenario-errors");
  errors.hidden = true;
  showGutter($("scenario-gutter"), area, []);
  try {
    const twin = await api.postScenario(area.value, side);
    showTwin(side, twin);
    state.sides.main.walk = null;
    state.sides.compare.walk = null;
    state.differences = [];
    state.step = 0;
    status(`Loaded scenario ${twin.topology.scenario} as the ${side === "main" ? "main" : "compared"} twin`);
    $("scenario-ok").textContent = `Loaded ${twin.topology.scenario}.`;
    render();
  } catch (e) {
    $("scenario-ok").textContent = "";
    const diagnostics = e instanceof api.ApiFailure ? e.diagnostics : [];
    showScenarioErrors(errors, area, message(e), diagnostics);
    showGutter($("scenario-gutter"), area, diagnostics);
    const first = diagnostics.find((d) => d.line !== null)?.line;
    if (first != null) selectLine(area, first);
    status("The scenario was not loaded: see its errors", "error");
  }
}

function wireScenario() {
  const area = /** @type {HTMLTextAreaElement} */ ($("scenario-text"));
  const gutter = $("scenario-gutter");
  area.addEventListener("input", () => showGutter(gutter, area, []));
  area.addEventListener("scroll", () => {
    gutter.scrollTop = area.scrollTop;
  });
  input("scenario-file").addEventListener("change", async () => {
    const f = input("scenario-file").files?.[0];
    if (!f) return;
    area.value = await f.text();
    showGutter(gutter, area, []);
  });
  $("scenario-form").addEventListener("submit", (e) => {
    e.preventDefault();
    applyScenario();
  });
  showGutter(gutter, area, []);
}

// ---- zoom and keys ----

function updateZoomLabel() {
  const z = state.sides.main.diagram?.zoom ?? 1;
  $("zoom-level").textContent = `${Math.round(z * 100)}%`;
}

/** @param {(z: number) => number} f */
function zoom(f) {
  state.zoomed = true;
  for (const s of activeSides()) {
    const d = state.sides[s].diagram;
    d?.setZoom(f(d.zoom));
  }
  updateZoomLabel();
}

/** @param {KeyboardEvent} e */
function onKey(e) {
  if (e.altKey || e.ctrlKey || e.metaKey) return;
  const t = /** @type {HTMLElement | null} */ (e.target);
  if (t?.closest("input, textarea, select, [contenteditable], [role=tab]")) return;
  const moves = /** @type {Record<string, () => number>} */ ({
    ArrowRight: () => state.step + 1,
    j: () => state.step + 1,
    ArrowLeft: () => state.step - 1,
    k: () => state.step - 1,
    Home: () => 0,
    End: () => stepCount() - 1,
  });
  const m = moves[e.key];
  if (!m || stepCount() === 0) return;
  e.preventDefault();
  go(m());
}

async function main() {
  panelTabs = tabs($("tabs"), () => refreshPanel());
  wireScenario();
  $("send-form").addEventListener("submit", (e) => {
    e.preventDefault();
    send();
  });
  $("step-first").addEventListener("click", () => go(0));
  $("step-prev").addEventListener("click", () => go(state.step - 1));
  $("step-next").addEventListener("click", () => go(state.step + 1));
  $("step-last").addEventListener("click", () => go(stepCount() - 1));
  $("zoom-in").addEventListener("click", () => zoom((z) => z * 1.25));
  $("zoom-out").addEventListener("click", () => zoom((z) => z / 1.25));
  const fit = () => {
    for (const s of activeSides()) state.sides[s].diagram?.fit();
    updateZoomLabel();
  };
  $("zoom-fit").addEventListener("click", () => {
    state.zoomed = false;
    fit();
  });
  window.addEventListener("resize", () => {
    if (!state.zoomed) fit();
  });
  input("compare-toggle").addEventListener("change", () => setCompare(input("compare-toggle").checked));
  $("ipt-side").addEventListener("change", () => refreshPanel());
  document.addEventListener("keydown", onKey);
  try {
    const scenarios = await api.getScenarios();
    showTwin("main", await api.getTwin("main"));
    if (scenarios.compare) showTwin("compare", await api.getTwin("compare"));
    else $("compare-name").textContent = "(none: load one in Scenario)";
    status(`Scenario ${scenarios.main}${scenarios.compare ? `, compared with ${scenarios.compare}` : ""}`);
    document.body.dataset.ready = "true";
  } catch (e) {
    status(`Cannot load the twin: ${message(e)}`, "error");
  }
  render();
}

main();
