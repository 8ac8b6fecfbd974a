import { isScalar } from "yaml";
import type { Diagnostic } from "../../core/diagnostic.ts";
import { parseIpv4 } from "../../core/ip.ts";
import type { OutsideHost, Pins, Scenario, SubnetSpec } from "../../model/scenario.ts";
import { checkNetwork, contains, net4, reporter } from "./check-network.ts";
import { checkObjects } from "./check-objects.ts";
import {
  clusterWithDefaults,
  DEFAULTS,
  defaultHostOs,
  eraDefaults,
  PLACEHOLDER_SUBSCRIPTION,
  TODAY_KUBERNETES_VERSION,
} from "./defaults.ts";
import { issueDiagnostics } from "./issues.ts";
import { type LocatedManifest, type ReadFile, readManifestGroup } from "./manifests.ts";
import { type ScenarioFile, scenarioSchema } from "./schema.ts";
import { getNode, type PathSegment, readYaml, type YamlDoc } from "./yaml-source.ts";

/**
 * Reads a scenario file: YAML (positions kept), the zod schema, the manifests, the defaults of
 * its era, then the semantic checks. Never throws; `value` is null when any error was found.
 * Files named by `file:` entries are read through `readFile` (the CLI's), relative to the scenario.
 */

export interface ParsedScenario {
  readonly value: Scenario | null;
  readonly diagnostics: readonly Diagnostic[];
}

/** Fields that must stay text though YAML reads `1.30` or `01234567` as numbers: take the source. */
const TEXT_FIELDS: readonly (readonly PathSegment[])[] = [
  ["cluster", "kubernetesVersion"],
  ["pins", "nodePoolId"],
];

function keepAsText(doc: YamlDoc, raw: Record<string, unknown>): void {
  for (const path of TEXT_FIELDS) {
    const node = getNode(doc.doc, path);
    if (!node || !isScalar(node) || typeof node.value !== "number" || typeof node.source !== "string")
      continue;
    const parent = raw[path[0] as string] as Record<string, unknown>;
    parent[path[1] as string] = node.source;
  }
}

function baseName(file: string): string {
  const b = file.split(/[\\/]/).pop() ?? file;
  return b.replace(/\.ya?ml$/, "");
}

export function parseScenario(text: string, sourceName: string, readFile?: ReadFile): ParsedScenario {
  try {
    return parseUnsafe(text, sourceName, readFile);
  } catch (e) {
    // A bug of ours must not surface as a stack trace to the user: report it as a diagnostic.
    return {
      value: null,
      diagnostics: [
        {
          code: "scenario-internal",
          severity: "error",
          message: `Cannot read scenario ${sourceName}: internal error (${e instanceof Error ? e.message : String(e)})`,
        },
      ],
    };
  }
}

function parseUnsafe(text: string, file: string, readFile: ReadFile | undefined): ParsedScenario {
  const read = readYaml(text, file, "scenario");
  if (!read.doc) return { value: null, diagnostics: read.diagnostics };
  const doc = read.doc;
  let raw: unknown;
  try {
    // Aliases resolve only here: `*x` without an earlier `&x` (or an alias bomb) fails now.
    raw = doc.doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const pos = doc.where.at([]);
    return {
      value: null,
      diagnostics: [
        {
          code: "scenario-yaml",
          severity: "error",
          message: `Cannot read scenario ${file} at line ${pos.line}: ${why}`,
          source: { file, ...pos },
        },
      ],
    };
  }
  if (raw === null || raw === undefined)
    return {
      value: null,
      diagnostics: [
        {
          code: "scenario-empty",
          severity: "error",
          message: `Cannot read scenario ${file}: the file is empty`,
          source: { file, line: 1, column: 0 },
        },
      ],
    };
  if (typeof raw === "object" && !Array.isArray(raw)) keepAsText(doc, raw as Record<string, unknown>);
  const diagnostics: Diagnostic[] = [];
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success)
    diagnostics.push(...issueDiagnostics(parsed.error.issues, scenarioSchema, raw, doc.where, "scenario"));

  const rawObj = typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const main = readManifestGroup("manifests", rawObj.manifests, doc, text, readFile);
  const later = readManifestGroup("later", rawObj.later, doc, text, readFile);
  diagnostics.push(...main.diagnostics, ...later.diagnostics);
  if (!parsed.success || diagnostics.length) return { value: null, diagnostics: byPlace(diagnostics) };

  const scenario = resolve(parsed.data, file, main.manifests, later.manifests);
  const report = reporter(doc.where, diagnostics);
  checkNetwork(scenario, report);
  // `later` is applied after `manifests`: check the cluster as it is at the end.
  checkObjects(scenario, [...main.manifests, ...later.manifests], report, diagnostics);
  return {
    value: diagnostics.some((d) => d.severity === "error") ? null : scenario,
    diagnostics: byPlace(diagnostics),
  };
}

/** Problems in reading order: files as first met, then line and column. */
function byPlace(diags: readonly Diagnostic[]): Diagnostic[] {
  const files = [...new Set(diags.map((d) => d.source?.file ?? ""))];
  const rank = (d: Diagnostic) => [
    files.indexOf(d.source?.file ?? ""),
    d.source?.line ?? 0,
    d.source?.column ?? 0,
  ];
  return [...diags].sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  });
}

/** The normalised scenario: every omitted field from defaults.ts, hosts' kind and subnet inferred. */
function resolve(f: ScenarioFile, file: string, main: LocatedManifest[], later: LocatedManifest[]): Scenario {
  const version = f.cluster?.kubernetesVersion ?? TODAY_KUBERNETES_VERSION;
  const era = eraDefaults(version);
  const vnet = f.vnet ?? {
    name: DEFAULTS.managedVnetName,
    addressPrefixes: [era.vnetPrefix],
    subnets: [{ name: DEFAULTS.managedSubnetName, prefix: era.subnetPrefix }],
  };
  const subnets: SubnetSpec[] = vnet.subnets.map((s) => ({ name: s.name, prefix: s.prefix }));
  const hosts: OutsideHost[] = (f.hosts ?? []).map((h) => {
    const ip = parseIpv4(h.ip)!;
    const inside = subnets.find((s) => {
      const n = net4(s.prefix);
      return n !== null && contains(n, ip);
    });
    const kind = h.kind ?? (typeof h.subnet === "string" || inside ? "vnet" : "internet");
    return {
      name: h.name,
      ip: h.ip,
      kind,
      subnet: kind === "vnet" ? (h.subnet ?? inside?.name ?? null) : null,
      os: h.os ?? defaultHostOs(kind, version),
    };
  });
  return {
    name: f.name ?? baseName(file),
    description: f.description ?? "",
    seed: f.seed ?? DEFAULTS.seed,
    subscriptionId: f.subscriptionId ?? PLACEHOLDER_SUBSCRIPTION,
    resourceGroup: f.resourceGroup ?? DEFAULTS.resourceGroup,
    location: f.location ?? DEFAULTS.location,
    vnet: { name: vnet.name, addressPrefixes: [...vnet.addressPrefixes], subnets },
    cluster: clusterWithDefaults(f.cluster ?? {}, version, subnets),
    manifests: main.map((m) => m.manifest),
    later: later.map((m) => m.manifest),
    hosts,
    pins: stripUndefined(f.pins ?? {}) as Pins,
  };
}

/** zod leaves absent optional keys out already; this only drops explicit `undefined`s (exactOptionalPropertyTypes). */
function stripUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripUndefined);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => [k, stripUndefined(x)]),
    );
  return v;
}
