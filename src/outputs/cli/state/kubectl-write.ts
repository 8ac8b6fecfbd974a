import { resolve } from "node:path";
import type { Twin } from "../../../model/twin.ts";
import type { CommandResult } from "../../emulate/types.ts";
import { renderDiagnostics } from "../diagnostics.ts";
import { CliError, type CliIo, type StoreIo } from "../io.ts";
import type { Action, KeptTwin, ObjectKind } from "./format.ts";
import {
  applyAction,
  type DesiredObject,
  desiredObjects,
  keptScenario,
  objectKey,
  readManifestFile,
  twinOf,
} from "./replay.ts";
import { readState, statePath, withLock, writeState } from "./store.ts";

/**
 * `kubectl apply|delete|scale` on the kept twin: each is checked against the twin as it is, recorded
 * as an action in state.json only if the twin rebuilt with it is sound, and answered with kubectl's
 * own messages. Before 1.16 kubectl resolved `deploy` to the extensions group (the server listed it
 * first), so 1.11 prints `deployment.extensions "x" deleted` but `deployment.apps/nginx created` for
 * an apps/v1 manifest (seed line 485, which names the manifest's group).
 */

const VERBS = new Set(["apply", "delete", "scale"]);

export function isKubectlWrite(argv: readonly string[]): boolean {
  return VERBS.has(argv[0] ?? "");
}

const KIND_OF: Readonly<Record<string, ObjectKind>> = {
  svc: "Service",
  service: "Service",
  services: "Service",
  deploy: "Deployment",
  deployment: "Deployment",
  deployments: "Deployment",
  po: "Pod",
  pod: "Pod",
  pods: "Pod",
};

const ok = (stdout: string): CommandResult => ({ stdout, stderr: "", exitCode: 0 });
const fail = (stderr: string): CommandResult => ({ stdout: "", stderr, exitCode: 1 });

function minorOf(version: string): number {
  return Number(/^v?\d+\.(\d+)/.exec(version)?.[1] ?? 99);
}

/** `deployment.extensions` / `deployment.apps` / `service` / `pod`: how kubectl names a kind it resolved. */
function resourceName(kind: ObjectKind, minor: number, plural = false): string {
  const s = plural ? "s" : "";
  if (kind === "Deployment") return `deployment${s}.${minor < 16 ? "extensions" : "apps"}`;
  if (kind === "DaemonSet") return `daemonset${s}.${minor < 16 ? "extensions" : "apps"}`;
  return `${kind.toLowerCase()}${s}`;
}

/** Flags with a value: `-f X`, `-fX`, `--filename=X`. */
function parseArgs(
  argv: readonly string[],
  valued: Readonly<Record<string, string>>,
): { flags: Map<string, string[]>; words: string[]; error?: string } {
  const flags = new Map<string, string[]>();
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a;
    const canonical =
      valued[name] ?? (a.startsWith("-") && !a.startsWith("--") ? valued[a.slice(0, 2)] : undefined);
    if (canonical) {
      let value: string | undefined;
      if (name !== a) value = a.slice(eq + 1);
      else if (a.length > 2 && !a.startsWith("--")) value = a.slice(2).replace(/^=/, "");
      else value = argv[++i];
      if (value === undefined) return { flags, words, error: `error: flag needs an argument: ${a}` };
      flags.set(canonical, [...(flags.get(canonical) ?? []), value]);
    } else if (a.startsWith("-")) return { flags, words, error: `error: unknown flag: ${a}` };
    else words.push(a);
  }
  return { flags, words };
}

/** Runs `kubectl apply|delete|scale ARGS` on the kept twin (never on a fresh one: nothing would keep it). */
export function runKubectlWrite(io: CliIo, argv: readonly string[], scenarioGiven: boolean): CommandResult {
  const verb = argv[0] as string;
  const store = io.store;
  const none = `${verb} needs a twin kept with \`packetwalk up\``;
  if (scenarioGiven)
    throw new CliError(`${none}: with --scenario the twin is built fresh and nothing it does is kept`);
  if (!store || !readState(store, io.readFile))
    throw new CliError(`${none} (none in ${store?.dir ?? "this run"})`);
  return withLock(store, io.readFile, () => {
    const state = readState(store, io.readFile);
    if (!state) throw new CliError(`${none} (none in ${store.dir})`);
    const scenario = keptScenario(state, statePath(store));
    const objects = desiredObjects(scenario, state.actions);
    const minor = minorOf(scenario.cluster.kubernetesVersion);
    const step = (verb === "apply" ? apply : verb === "delete" ? del : scale)(
      io,
      argv.slice(1),
      state,
      objects,
      minor,
    );
    if ("exitCode" in step) return step;
    // Only a change the control plane can build is kept.
    const after = new Map(objects);
    applyAction(after, step.action);
    const clock = state.clock;
    try {
      twinOf(scenario, after, clock);
    } catch (e) {
      return fail(`error: the twin cannot take this change: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    writeState(store, { ...state, actions: [...state.actions, step.action] });
    return ok(step.output);
  });
}

type Step = CommandResult | { action: Action; output: string };

function apply(
  io: CliIo,
  argv: readonly string[],
  state: KeptTwin,
  objects: ReadonlyMap<string, DesiredObject>,
  _minor: number,
): Step {
  const p = parseArgs(argv, { "-f": "f", "--filename": "f", "-n": "n", "--namespace": "n" });
  if (p.error) return fail(`${p.error}\n`);
  const files = p.flags.get("f") ?? [];
  if (files.length !== 1 || p.words.length)
    return fail(
      "error: the twin's kubectl apply takes exactly one -f FILE (a manifest file, `---` between objects)\n",
    );
  const file = resolve(files[0] as string);
  const text = io.readFile(files[0] as string);
  const given = p.flags.get("n")?.at(-1);
  const namespace = given ?? "default";
  const read = readManifestFile(file, text, namespace);
  if (read.diagnostics.some((d) => d.severity === "error"))
    return fail(renderDiagnostics(read.diagnostics, text));
  if (read.manifests.length === 0) return fail("error: no objects passed to apply\n");
  const lines: string[] = [];
  for (const m of read.manifests) {
    const meta = m.object.metadata as Record<string, unknown>;
    if (given && meta.namespace !== given)
      return fail(
        `error: the namespace from the provided object "${String(meta.namespace)}" does not match the namespace "${given}". You must pass '--namespace=${String(meta.namespace)}' to perform this operation.\n`,
      );
    const before = objects.get(objectKey(m.object));
    const what = !before
      ? "created"
      : JSON.stringify(before.manifest.object) === JSON.stringify(m.object)
        ? "unchanged"
        : "configured";
    const group = /^([^/]+)\//.exec(String(m.object.apiVersion))?.[1];
    lines.push(
      `${String(m.object.kind).toLowerCase()}${group ? `.${group}` : ""}/${String(meta.name)} ${what}\n`,
    );
  }
  return { action: { type: "apply", at: state.clock, file, text, namespace }, output: lines.join("") };
}

function del(
  io: CliIo,
  argv: readonly string[],
  state: KeptTwin,
  objects: ReadonlyMap<string, DesiredObject>,
  minor: number,
): Step {
  const p = parseArgs(argv, { "-n": "n", "--namespace": "n" });
  if (p.error) return fail(`${p.error}\n`);
  const [kindWord, name, ...more] = p.words[0]?.includes("/")
    ? [...(p.words[0] as string).split("/"), ...p.words.slice(1)]
    : p.words;
  const kind = KIND_OF[kindWord ?? ""];
  if (!kind || !name || more.length)
    return fail("error: the twin's kubectl delete takes svc|deploy|pod NAME [-n NS]\n");
  const namespace = p.flags.get("n")?.at(-1) ?? "default";
  const key = `${kind}/${namespace}/${name}`;
  if (!objects.has(key)) {
    const inTwin = notOurs(io, state, kind, namespace, name);
    return fail(
      inTwin ?? `Error from server (NotFound): ${resourceName(kind, minor, true)} "${name}" not found\n`,
    );
  }
  return {
    action: { type: "delete", at: state.clock, kind, namespace, name },
    output: `${resourceName(kind, minor)} "${name}" deleted\n`,
  };
}

/** Why an object the twin shows cannot be changed (a Deployment's pod, an AKS add-on), or null. */
function notOurs(
  io: CliIo,
  state: KeptTwin,
  kind: ObjectKind,
  namespace: string,
  name: string,
): string | null {
  const store = io.store as StoreIo;
  const twin: Twin = currentFromState(state, statePath(store));
  const same = (m: { namespace: string; name: string }) => m.namespace === namespace && m.name === name;
  if (kind === "Pod") {
    const pod = twin.k8s.pods.find((p) => same(p.meta));
    const owner = pod?.meta.ownerReferences[0];
    if (owner)
      return `error: pod "${name}" belongs to ${owner.kind} ${owner.name}, which would recreate it: the twin changes pods through their Deployment (kubectl scale)\n`;
  }
  const list = kind === "Service" ? twin.k8s.services : kind === "Deployment" ? twin.k8s.deployments : [];
  if (list.some((o) => same(o.meta)))
    return `error: ${kind} ${namespace}/${name} is part of AKS itself: the twin keeps it\n`;
  return null;
}

function currentFromState(state: KeptTwin, stateFile: string): Twin {
  const scenario = keptScenario(state, stateFile);
  return twinOf(scenario, desiredObjects(scenario, state.actions), state.clock);
}

function scale(
  io: CliIo,
  argv: readonly string[],
  state: KeptTwin,
  objects: ReadonlyMap<string, DesiredObject>,
  minor: number,
): Step {
  const p = parseArgs(argv, { "--replicas": "r", "-n": "n", "--namespace": "n" });
  if (p.error) return fail(`${p.error}\n`);
  const [kindWord, name, ...more] = p.words[0]?.includes("/")
    ? [...(p.words[0] as string).split("/"), ...p.words.slice(1)]
    : p.words;
  if (KIND_OF[kindWord ?? ""] !== "Deployment" || !name || more.length)
    return fail("error: the twin's kubectl scale takes deploy NAME --replicas N [-n NS]\n");
  const r = p.flags.get("r")?.at(-1);
  if (r === undefined) return fail(`error: required flag(s) "replicas" not set\n`);
  if (!/^\d+$/.test(r))
    return fail(
      `error: invalid argument "${r}" for "--replicas" flag: strconv.ParseInt: parsing "${r}": invalid syntax\n`,
    );
  const namespace = p.flags.get("n")?.at(-1) ?? "default";
  if (!objects.has(`Deployment/${namespace}/${name}`))
    return fail(
      notOurs(io, state, "Deployment", namespace, name) ??
        `Error from server (NotFound): ${resourceName("Deployment", minor, true)} "${name}" not found\n`,
    );
  return {
    action: { type: "scale", at: state.clock, namespace, name, replicas: Number(r) },
    output: `${resourceName("Deployment", minor)}/${name} scaled\n`,
  };
}
