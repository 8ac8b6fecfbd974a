import { buildTwin } from "../../../controlplane/build-twin.ts";
import type { Diagnostic } from "../../../core/diagnostic.ts";
import { readManifestGroup } from "../../../inputs/scenario/manifests.ts";
import { parseScenario } from "../../../inputs/scenario/parse.ts";
import { readYaml } from "../../../inputs/scenario/yaml-source.ts";
import type { LoadBalancer } from "../../../model/azure.ts";
import type { Manifest, Scenario } from "../../../model/scenario.ts";
import type { Twin } from "../../../model/twin.ts";
import { CliError } from "../io.ts";
import type { Action, KeptTwin } from "./format.ts";

/**
 * Rebuilds a kept twin: the scenario's manifests changed by each action in turn (apply adds or
 * replaces an object, delete removes it, scale sets a Deployment's replicas), then the control
 * plane run once over the result. The control plane is deterministic, so the same state always
 * gives the same twin. Only the times are adjusted afterwards: what was applied or scaled up after
 * `up` was created at that moment of the virtual clock, not with the scenario's objects.
 */

/** One object the cluster should hold, and when (virtual seconds after `up`) it was created. */
export interface DesiredObject {
  readonly manifest: Manifest;
  /** null: one of the scenario's own objects (its time is the control plane's). */
  readonly at: number | null;
  /** A Deployment's replicas in order, each with the moment it was created. */
  readonly replicaTimes: readonly (number | null)[];
}

/** `Kind/namespace/name`, the identity apply replaces by. */
export function objectKey(object: Readonly<Record<string, unknown>>, namespace = "default"): string {
  const meta = (object.metadata ?? {}) as Record<string, unknown>;
  const ns = typeof meta.namespace === "string" && meta.namespace ? meta.namespace : namespace;
  return `${String(object.kind)}/${ns}/${String(meta.name)}`;
}

function replicasOf(object: Readonly<Record<string, unknown>>): number {
  if (object.kind !== "Deployment") return 0;
  const r = ((object.spec ?? {}) as Record<string, unknown>).replicas;
  return typeof r === "number" ? r : 1;
}

function resized(times: readonly (number | null)[], n: number, at: number): (number | null)[] {
  return n <= times.length ? times.slice(0, n) : [...times, ...new Array<number>(n - times.length).fill(at)];
}

/** The objects of a manifest file for `kubectl apply -f`, checked like the scenario's own. */
export function readManifestFile(
  file: string,
  text: string,
  namespace: string,
): { manifests: Manifest[]; diagnostics: readonly Diagnostic[] } {
  const holder = readYaml("manifests: []\n", file, "scenario").doc;
  if (!holder) throw new Error("unreachable: the holder document is valid YAML");
  const read = readManifestGroup("manifests", [{ file }], holder, "", (p) => (p === file ? text : null));
  const manifests = read.manifests.map((m) => {
    const meta = (m.manifest.object.metadata ?? {}) as Record<string, unknown>;
    if (typeof meta.namespace === "string" && meta.namespace) return m.manifest;
    return { ...m.manifest, object: { ...m.manifest.object, metadata: { ...meta, namespace } } };
  });
  return { manifests, diagnostics: read.diagnostics };
}

/** The kept scenario, read from the frozen texts only. */
export function keptScenario(state: KeptTwin, stateFile: string): Scenario {
  const { path, text, files } = state.scenario;
  const parsed = parseScenario(text, path, (p) => files[p] ?? null);
  if (!parsed.value) {
    const first = parsed.diagnostics.find((d) => d.severity === "error")?.message ?? "unknown error";
    throw new CliError(`The kept twin's scenario (in ${stateFile}) no longer reads: ${first}`);
  }
  return parsed.value;
}

/** The scenario's objects, then each action applied in order. Throws on an action that cannot apply. */
export function desiredObjects(scenario: Scenario, actions: readonly Action[]): Map<string, DesiredObject> {
  const objects = new Map<string, DesiredObject>();
  for (const m of scenario.manifests)
    objects.set(objectKey(m.object), {
      manifest: m,
      at: null,
      replicaTimes: new Array<null>(replicasOf(m.object)).fill(null),
    });
  for (const a of actions) applyAction(objects, a);
  return objects;
}

export function applyAction(objects: Map<string, DesiredObject>, a: Action): void {
  switch (a.type) {
    case "apply": {
      const read = readManifestFile(a.file, a.text, a.namespace);
      if (read.diagnostics.some((d) => d.severity === "error"))
        throw new Error(`${a.file} no longer reads: ${read.diagnostics[0]?.message}`);
      for (const m of read.manifests) {
        const key = objectKey(m.object);
        const before = objects.get(key);
        objects.set(key, {
          manifest: m,
          at: before ? before.at : a.at,
          replicaTimes: resized(before?.replicaTimes ?? [], replicasOf(m.object), a.at),
        });
      }
      return;
    }
    case "delete":
      if (!objects.delete(`${a.kind}/${a.namespace}/${a.name}`))
        throw new Error(`${a.kind} ${a.namespace}/${a.name} does not exist`);
      return;
    case "scale": {
      const key = `Deployment/${a.namespace}/${a.name}`;
      const before = objects.get(key);
      if (!before) throw new Error(`Deployment ${a.namespace}/${a.name} does not exist`);
      const spec = {
        ...((before.manifest.object.spec ?? {}) as Record<string, unknown>),
        replicas: a.replicas,
      };
      objects.set(key, {
        manifest: { ...before.manifest, object: { ...before.manifest.object, spec } },
        at: before.at,
        replicaTimes: resized(before.replicaTimes, a.replicas, a.at),
      });
      return;
    }
    case "clock":
    case "traffic":
      return;
  }
}

/**
 * How long ARM shows a load balancer `Updating` after a LoadBalancer Service is created: the
 * cloud provider's PUT of the whole LB. A 2019 cloud-provider-azure log times one on the `kubernetes`
 * LB at 11 s ("reconcileLoadBalancer … lb(kubernetes) - updating" at 17:05:48.153, "finished" at
 * 17:05:59.065; openshift/openshift-azure#1336). The seed lists the probes right after `kubectl
 * apply` and sees every one of them Updating, the old service's too (line 491): the state is the LB's.
 */
export const LB_UPDATE_SECONDS = 11;

/** The LB whose rules serve one of `services` (`namespace/name`) shows `Updating` on its rules and probes. */
function updating(lb: LoadBalancer, services: ReadonlySet<string>): LoadBalancer {
  // A rule's service is `namespace/name:port`.
  if (!lb.loadBalancingRules.some((r) => services.has(r.service.replace(/:\d+$/, "")))) return lb;
  return {
    ...lb,
    loadBalancingRules: lb.loadBalancingRules.map((r) => ({ ...r, provisioningState: "Updating" })),
    probes: lb.probes.map((p) => ({ ...p, provisioningState: "Updating" })),
  };
}

/** The control plane over the desired objects, observed `clock` seconds after `up`. */
export function twinOf(scenario: Scenario, objects: ReadonlyMap<string, DesiredObject>, clock: number): Twin {
  const twin = buildTwin({ ...scenario, manifests: [...objects.values()].map((o) => o.manifest) });
  const up = twin.now;
  const when = (key: string): number | null => {
    const at = objects.get(key)?.at;
    return at === null || at === undefined ? null : up + at;
  };
  const retimed = <T extends { meta: { createdAt: number } }>(o: T, t: number | null): T =>
    t === null ? o : { ...o, meta: { ...o.meta, createdAt: t } };
  const key = (kind: string, m: { namespace: string; name: string }) => `${kind}/${m.namespace}/${m.name}`;

  // Pods of a Deployment, in replica order, belong to its ReplicaSet `NAME-HASH`.
  const replicaSetTimes = new Map<string, readonly (number | null)[]>();
  for (const d of twin.k8s.deployments) {
    const o = objects.get(key("Deployment", d.meta));
    if (o) replicaSetTimes.set(`${d.meta.namespace}/${d.meta.name}-${d.podTemplateHash}`, o.replicaTimes);
  }
  const seen = new Map<string, number>();
  const pods = twin.k8s.pods.map((p) => {
    const owner = p.meta.ownerReferences.find((r) => r.kind === "ReplicaSet");
    if (!owner) return retimed(p, when(key(p.meta.ownerReferences.length ? "" : "Pod", p.meta)));
    const rs = `${p.meta.namespace}/${owner.name}`;
    const times = replicaSetTimes.get(rs);
    const i = seen.get(rs) ?? 0;
    seen.set(rs, i + 1);
    const t = times?.[i];
    return retimed(p, t === null || t === undefined ? null : up + t);
  });
  // LoadBalancer Services created less than LB_UPDATE_SECONDS ago: their LB is still being updated.
  const recent = new Set<string>();
  for (const s of twin.k8s.services) {
    const at = objects.get(key("Service", s.meta))?.at;
    if (s.type === "LoadBalancer" && typeof at === "number" && clock - at < LB_UPDATE_SECONDS)
      recent.add(`${s.meta.namespace}/${s.meta.name}`);
  }
  return {
    ...twin,
    azure:
      recent.size === 0
        ? twin.azure
        : { ...twin.azure, loadBalancers: twin.azure.loadBalancers.map((lb) => updating(lb, recent)) },
    k8s: {
      ...twin.k8s,
      services: twin.k8s.services.map((s) => retimed(s, when(key("Service", s.meta)))),
      endpoints: twin.k8s.endpoints.map((e) => retimed(e, when(key("Service", e.meta)))),
      deployments: twin.k8s.deployments.map((d) => retimed(d, when(key("Deployment", d.meta)))),
      pods,
    },
    now: up + clock,
  };
}

/** The kept twin as its state describes it; a CliError naming the state file if it cannot be rebuilt. */
export function replay(state: KeptTwin, stateFile: string): Twin {
  const scenario = keptScenario(state, stateFile);
  try {
    return twinOf(scenario, desiredObjects(scenario, state.actions), state.clock);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(
      `Cannot rebuild the kept twin from ${stateFile}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}
