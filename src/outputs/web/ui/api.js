// @ts-check
/**
 * The page's calls to `packetwalk serve`'s JSON API (contract.ts). Every call rejects with an
 * ApiFailure carrying the server's {error, diagnostics} when the answer is not 2xx.
 */

/** @typedef {import("../contract.ts").TwinResponse} TwinResponse */
/** @typedef {import("../contract.ts").ApiError} ApiError */
/** @typedef {import("../../render/walk-json.ts").WalkReport} WalkReport */
/** @typedef {import("../compare.ts").Difference} Difference */
/** @typedef {"main" | "compare"} Side */
/** @typedef {{ path: number, where: string, iface: string, frames: number, url: string }} Capture */
/** @typedef {{ id: string, report: WalkReport, captures: Capture[] }} Walk */
/** @typedef {{ main: Walk, compare: Walk, differences: Difference[] }} Comparison */
/** @typedef {{ builtIn: string[], main: string, compare: string | null }} Scenarios */
/** @typedef {{ from?: string, to?: string, proto?: string, side?: Side }} WalkRequest */

export class ApiFailure extends Error {
  /**
   * @param {number} status
   * @param {ApiError} body
   */
  constructor(status, body) {
    super(body.error || `HTTP ${status}`);
    this.status = status;
    this.diagnostics = body.diagnostics ?? [];
  }
}

/**
 * @param {string} url
 * @param {unknown} [body] sent as JSON with POST when given
 * @returns {Promise<any>}
 */
async function call(url, body) {
  /** @type {RequestInit} */
  const init =
    body === undefined
      ? {}
      : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const res = await fetch(url, init);
  const text = await res.text();
  /** @type {any} */
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { error: text.trim() || res.statusText };
  }
  if (!res.ok)
    throw new ApiFailure(res.status, json && typeof json.error === "string" ? json : { error: text });
  return json;
}

/** @param {Side} side @returns {Promise<TwinResponse>} */
export const getTwin = (side) => call(`/api/twin?side=${side}`);

/** @returns {Promise<Scenarios>} */
export const getScenarios = () => call("/api/scenarios");

/** @param {WalkRequest} req @returns {Promise<Walk>} */
export const postWalk = (req) => call("/api/walk", req);

/** @param {WalkRequest} req @returns {Promise<Comparison>} */
export const postCompare = (req) => call("/api/compare", req);

/** @param {string} node @param {Side} side @returns {Promise<{text: string}>} */
export const getIptablesSave = (node, side) =>
  call(`/api/nodes/${encodeURIComponent(node)}/iptables-save?side=${side}`);

/** @param {string} walkId @param {number} path @param {string} node @returns {Promise<{text: string}>} */
export const getConntrack = (walkId, path, node) =>
  call(`/api/walks/${encodeURIComponent(walkId)}/conntrack?path=${path}&node=${encodeURIComponent(node)}`);

/** @param {string} text @param {Side} side @returns {Promise<TwinResponse>} */
export const postScenario = (text, side) => call("/api/scenario", { text, side });
