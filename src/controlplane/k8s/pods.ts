import { fromAlphabet, intBelow, uuidV4 } from "../../core/choose.ts";
import type { Rng, Streams } from "../../core/rng.ts";
import type { Deployment, Pod } from "../../model/k8s.ts";
import type { PodPin } from "../../model/scenario.ts";
import type { PoolNode } from "../azure/nodes.ts";
import type { DesiredWorkload } from "./desired.ts";

/**
 * The ReplicaSet/DaemonSet controllers, the scheduler and Azure CNI's IPAM, for pods: names in
 * the controllers' style (`<deployment>-<pod-template-hash>-<5 chars>`, both drawn from
 * apimachinery's rand.SafeEncodeString alphabet, which avoids vowels and look-alike digits —
 * the seed's `whereami-564765b89-j7bpw`), replicas spread over the least-loaded nodes, and each
 * pod's IP taken from its node's Azure CNI secondary addresses (azure-vnet-ipam hands out any
 * free one: a seeded choice here). hostNetwork pods use the node's IP.
 */

const NO_ANNOTATIONS: Pod["meta"]["annotations"] = {};
const NO_OWNERS: Pod["meta"]["ownerReferences"] = [];

export const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

export interface PodsInput {
  readonly workloads: readonly DesiredWorkload[];
  readonly nodes: readonly PoolNode[];
  readonly pins: readonly PodPin[];
  readonly uidPins: Readonly<Record<string, string>>;
  readonly kubeletVersion: string;
  /** Each workload draws from its own stream (`Deployment/ns/name`): an applied one shifts no other. */
  readonly streams: Streams;
}

export interface PodsResult {
  readonly deployments: Deployment[];
  /** In creation order (the order their sandboxes, veths and bridge ports were made). */
  readonly pods: Pod[];
  /** The pin each pod was built from, if any (CNI reads veth names, MACs and indexes from it). */
  readonly podPins: ReadonlyMap<string, PodPin>;
}

export function buildPods(input: PodsInput): PodsResult {
  const { nodes } = input;
  // The current workload's stream (set at the top of the loop below).
  let rng: Rng = input.streams("");
  // Each node's free addresses in the order a Set of them would iterate (first appearance, minus
  // those taken): the seeded pick indexes into that order.
  const freeIps = new Map(nodes.map((n) => [n.name, [...new Set(n.podIps)]]));
  const take = (free: string[], ip: string): void => {
    const i = free.indexOf(ip);
    if (i >= 0) free.splice(i, 1);
  };
  // Pinned addresses are reserved before anything is drawn, so no random pick can take them.
  for (const pin of input.pins) if (pin.ip) for (const free of freeIps.values()) take(free, pin.ip);
  // Pods per node, by the node's place in `nodes` (the scheduler scan below runs once per pod).
  const load = new Array<number>(nodes.length).fill(0);
  const indexOf = new Map(nodes.map((n, i) => [n.name, i]));
  const pinsByOwner = new Map<string, PodPin[]>();
  for (const pin of input.pins) {
    const list = pinsByOwner.get(pin.owner) ?? [];
    list.push(pin);
    pinsByOwner.set(pin.owner, list);
  }
  const deployments: Deployment[] = [];
  const pods: Pod[] = [];
  const podPins = new Map<string, PodPin>();
  // Looked up only when there are pins (building every key would cost a string per object).
  const anyUidPin = Object.keys(input.uidPins).length > 0;
  const uid = (key: () => string) => (anyUidPin ? input.uidPins[key()] : undefined) ?? uuidV4(rng);

  const place = (
    w: DesiredWorkload,
    name: string,
    node: PoolNode,
    pin: PodPin | undefined,
    owners: Pod["meta"]["ownerReferences"],
    labels: Readonly<Record<string, string>> = w.templateLabels,
  ) => {
    let podIP = node.ip;
    // A node with all its max-pods addresses taken cannot run another pod: like the scheduler
    // ("Too many pods"), leave it Pending, unscheduled and without an address.
    let pending = false;
    if (!w.hostNetwork) {
      const free = freeIps.get(node.name) as string[];
      if (pin?.ip) podIP = pin.ip;
      else if (free.length === 0) pending = true;
      else {
        const i = intBelow(rng, free.length);
        podIP = free[i] as string;
        free.splice(i, 1);
      }
      if (!pending) {
        const i = indexOf.get(node.name) as number;
        load[i] = (load[i] as number) + 1;
      }
    }
    const key = `${w.namespace}/${name}`;
    if (pin) podPins.set(key, pin);
    pods.push({
      meta: {
        name,
        namespace: w.namespace,
        uid: pin?.uid ?? uid(() => `Pod/${key}`),
        labels,
        annotations: NO_ANNOTATIONS,
        createdAt: w.createdAt,
        ownerReferences: owners,
      },
      nodeName: pending ? "" : node.name,
      hostNetwork: w.hostNetwork,
      podIP: pending ? "" : podIP,
      hostIP: pending ? "" : node.ip,
      phase: pending ? "Pending" : "Running",
      ready: !pending,
      restarts: 0,
      containers: w.containers,
      app: w.app,
    });
  };

  const leastLoaded = (): PoolNode => {
    // The first node with the fewest pods.
    let best = 0;
    for (let i = 1; i < nodes.length; i++) if ((load[i] as number) < (load[best] as number)) best = i;
    return nodes[best] as PoolNode;
  };
  const nodeNamed = (name: string, owner: string): PoolNode => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`pin for ${owner}: node "${name}" does not exist`);
    return n;
  };

  for (const w of input.workloads) {
    const owner = `${w.namespace}/${w.name}`;
    rng = input.streams(`${w.kind}/${owner}`);
    const pins = pinsByOwner.get(owner) ?? [];
    if (w.kind === "DaemonSet") {
      const dsOwners = [{ kind: "DaemonSet", name: w.name, uid: uid(() => `DaemonSet/${owner}`) }];
      nodes.forEach((node, i) => {
        const pin = pins.find((p) => p.node === node.name) ?? pins[i];
        const name = pin?.name ?? `${w.name}-${fromAlphabet(rng, SAFE_ALPHABET, 5)}`;
        place(w, name, node, pin, dsOwners);
      });
      continue;
    }
    if (w.kind === "Pod") {
      const pin = pins[0];
      place(w, w.name, pin?.node ? nodeNamed(pin.node, owner) : leastLoaded(), pin, NO_OWNERS);
      continue;
    }
    // Deployment → ReplicaSet `<name>-<hash>` → pods.
    const pinnedName = pins.find((p) => p.name)?.name;
    const hash = pinnedName?.startsWith(`${w.name}-`)
      ? (pinnedName.slice(w.name.length + 1).split("-")[0] as string)
      : fromAlphabet(rng, SAFE_ALPHABET, 9 + intBelow(rng, 2));
    const depUid = uid(() => `Deployment/${owner}`);
    deployments.push({
      meta: {
        name: w.name,
        namespace: w.namespace,
        uid: depUid,
        labels: w.labels,
        annotations: {},
        createdAt: w.createdAt,
        ownerReferences: [],
      },
      apiVersion: w.apiVersion,
      replicas: w.replicas,
      selector: w.selector,
      podTemplateHash: hash,
      template: { labels: w.templateLabels, containers: w.containers },
    });
    const rsName = `${w.name}-${hash}`;
    // The ReplicaSet's pods share one owner list and one label set (the model is read-only).
    const rsOwners = [
      { kind: "ReplicaSet", name: rsName, uid: uid(() => `ReplicaSet/${w.namespace}/${rsName}`) },
    ];
    const podLabels = { ...w.templateLabels, "pod-template-hash": hash };
    for (let r = 0; r < w.replicas; r++) {
      const pin = pins[r];
      const name = pin?.name ?? `${rsName}-${fromAlphabet(rng, SAFE_ALPHABET, 5)}`;
      const node = pin?.node ? nodeNamed(pin.node, owner) : leastLoaded();
      place(w, name, node, pin, rsOwners, podLabels);
    }
  }
  return { deployments, pods, podPins };
}
