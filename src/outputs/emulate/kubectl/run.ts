import type { K8sState } from "../../../model/k8s.ts";
import type { Twin } from "../../../model/twin.ts";
import type { CommandResult } from "../types.ts";
import {
  type Context,
  deploymentRow,
  endpointsRow,
  headers,
  type Kind,
  nodeRow,
  podRow,
  serviceRow,
} from "./columns.ts";
import { goJson, goYaml } from "./encode.ts";
import { apiList, apiObject, type Json } from "./objects.ts";
import { kubectlTabwriter, tabwrite } from "./tabwriter.ts";

/**
 * `kubectl get` over the twin: the resource types, flags and output formats of the seed's
 * commands, printed as the kubectl of the twin's Kubernetes version prints them.
 */

const kinds: Record<string, Kind> = {
  svc: "service",
  service: "service",
  services: "service",
  ep: "endpoints",
  endpoints: "endpoints",
  po: "pod",
  pod: "pod",
  pods: "pod",
  deploy: "deployment",
  deployment: "deployment",
  deployments: "deployment",
  no: "node",
  node: "node",
  nodes: "node",
};

/** Plural resource names, as the API server's NotFound message spells them. */
const plural: Record<Kind, string> = {
  service: "services",
  endpoints: "endpoints",
  pod: "pods",
  deployment: "deployments",
  node: "nodes",
};

const outputs = ["wide", "yaml", "json", "name"] as const;
type Output = (typeof outputs)[number] | "table";

const SUPPORTED = `Supported: kubectl get svc|service|services|ep|endpoints|pod|pods|po|deploy|deployment|node|nodes [NAME...] [-n NS | -A/--all-namespaces] [-o wide|yaml|json|name]`;

function usage(message: string): CommandResult {
  return { stdout: "", stderr: `error: ${message}\n${SUPPORTED}\n`, exitCode: 2 };
}

interface Parsed {
  readonly kind: Kind;
  readonly names: readonly string[];
  readonly namespace: string;
  readonly all: boolean;
  readonly output: Output;
}

function parse(argv: readonly string[]): Parsed | CommandResult {
  if (argv[0] !== "get")
    return usage(argv[0] === undefined ? "no command given" : `unknown command "${argv[0]}"`);
  const positional: string[] = [];
  let namespace = "default";
  let all = false;
  let output: Output = "table";
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith("--") && eq > 0 ? arg.slice(eq + 1) : null;
    const value = (): string | null => inline ?? argv[++i] ?? null;
    if (flag === "-A" || flag === "--all-namespaces") all = true;
    else if (flag === "-n" || flag === "--namespace" || /^-n./.test(arg)) {
      const v = /^-n./.test(arg) ? arg.slice(2) : value();
      if (v === null) return usage(`flag needs an argument: ${flag}`);
      namespace = v;
    } else if (flag === "-o" || flag === "--output" || /^-o./.test(arg)) {
      const v = /^-o./.test(arg) ? arg.slice(2) : value();
      if (v === null || !(outputs as readonly string[]).includes(v))
        return usage(`unsupported output format "${v ?? ""}"`);
      output = v as Output;
    } else if (arg.startsWith("-")) return usage(`unknown flag: ${arg}`);
    else positional.push(arg);
  }
  if (positional.length === 0) return usage("you must specify the type of resource to get");
  let [type, ...names] = positional as [string, ...string[]];
  if (type.includes("/"))
    [type, names] = [type.slice(0, type.indexOf("/")), [type.slice(type.indexOf("/") + 1), ...names]];
  const kind = kinds[type.toLowerCase()];
  if (kind === undefined) return usage(`unsupported resource type "${type}"`);
  return { kind, names, namespace, all, output };
}

interface Item {
  readonly namespace: string;
  readonly name: string;
  readonly value: unknown;
  readonly index: number;
}

/** The kind's objects in API list order: by namespace, then name (the etcd key order). */
function list(k8s: K8sState, kind: Kind): Item[] {
  const source: readonly {
    readonly meta?: { readonly namespace: string; readonly name: string };
    readonly name?: string;
  }[] =
    kind === "service"
      ? k8s.services
      : kind === "endpoints"
        ? k8s.endpoints
        : kind === "pod"
          ? k8s.pods
          : kind === "deployment"
            ? k8s.deployments
            : k8s.nodes;
  const items = source.map((value, index) => ({
    namespace: value.meta?.namespace ?? "",
    name: value.meta?.name ?? value.name ?? "",
    value,
    index,
  }));
  const key = (i: Item): string => `${i.namespace}\u0000${i.name}`;
  return items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function minorOf(version: string): number {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m && m[1] === "1" ? Number(m[2]) : 99;
}

/** `-o name` prefix: kubectl 1.11 printed `deployment.extensions/` for the extensions group. */
function nameKind(kind: Kind, minor: number): string {
  if (kind === "deployment") return minor < 16 ? "deployment.extensions" : "deployment.apps";
  return kind;
}

export function runKubectl(twin: Twin, argv: readonly string[]): CommandResult {
  const parsed = parse(argv);
  if ("exitCode" in parsed) return parsed;
  const { kind, names, all, output } = parsed;
  const minor = minorOf(twin.k8s.version);
  const clusterScoped = kind === "node";
  const inScope = list(twin.k8s, kind).filter(
    (i) => clusterScoped || all || i.namespace === parsed.namespace,
  );

  let stderr = "";
  let selected = inScope;
  if (names.length > 0) {
    selected = [];
    for (const name of names) {
      const found = inScope.find((i) => i.name === name);
      if (found) selected.push(found);
      else stderr += `Error from server (NotFound): ${plural[kind]} "${name}" not found\n`;
    }
  }
  const exitCode = stderr ? 1 : 0;
  if (selected.length === 0 && names.length === 0) {
    const where = clusterScoped || all || minor < 18 ? "" : ` in ${parsed.namespace} namespace`;
    return { stdout: "", stderr: `No resources found${where}.\n`, exitCode: 0 };
  }

  const oc = { minor, k8s: twin.k8s };
  if (output === "json" || output === "yaml") {
    if (selected.length === 0) return { stdout: "", stderr, exitCode };
    const objects = selected.map((i) => apiObject(kind, i.value, i.index, oc));
    const doc: Json = names.length === 1 && objects.length === 1 ? objects[0]! : apiList(objects, oc);
    return { stdout: output === "json" ? goJson(doc) : goYaml(doc), stderr, exitCode };
  }
  if (output === "name") {
    return { stdout: selected.map((i) => `${nameKind(kind, minor)}/${i.name}\n`).join(""), stderr, exitCode };
  }
  if (selected.length === 0) return { stdout: "", stderr, exitCode };

  const c: Context = { minor, now: twin.now, wide: output === "wide" };
  const withNs = all && !clusterScoped;
  const rows = selected.map((i) => {
    const v = i.value as never;
    const row =
      kind === "service"
        ? serviceRow(v, c)
        : kind === "endpoints"
          ? endpointsRow(v, c)
          : kind === "pod"
            ? podRow(v, c)
            : kind === "deployment"
              ? deploymentRow(twin.k8s, v, c)
              : nodeRow(v, c);
    return withNs ? [i.namespace, ...row] : row;
  });
  const head = withNs ? ["NAMESPACE", ...headers(kind, c)] : headers(kind, c);
  return { stdout: tabwrite([head, ...rows], kubectlTabwriter(minor)), stderr, exitCode };
}
