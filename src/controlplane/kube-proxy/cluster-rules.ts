import type { Chain, Rule, RulesetFile, Table } from "../../model/netfilter/ruleset.ts";
import { BUILTIN_CHAINS } from "../../model/netfilter/ruleset.ts";
import { type ChainRules, newChainRules, type TableKey } from "./ir.ts";
import {
  byName,
  type ClusterRulesInput,
  frame,
  kubeProxyView,
  NodeTables,
  otherWriters,
  proxyJumps,
  proxyWriter,
  tableOrder,
  userChain,
} from "./node-rules.ts";
import { dependsOnNode, type ProxyWriter } from "./proxy-writer.ts";
import { onNode, type ServicePortInfo } from "./service-ports.ts";

/**
 * Every node's ruleset for a whole cluster without building each one from scratch. Almost all of
 * what the writers put on a node is the same on every node; only the service ports that read the
 * node (`dependsOnNode`: Local traffic policies, source ranges) differ. So the rules of all other
 * service ports are written once into "base" tables, and each node only writes its node-dependent
 * service ports and splices their rules into the base: a chain only they write is added, a chain
 * written by many service ports (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES, …) gets
 * their rules inserted where the from-scratch loop would have put them. Every Rule, Chain and
 * Table object no node changes is shared (the IR is read-only), and nodes whose node-dependent
 * inputs are equal share the whole RulesetFile. The result equals `buildNodeRuleset` for each node.
 */

export interface NodeIdentity {
  readonly nodeName: string;
  readonly nodeIP: string;
}

/** The cluster's shared part of the build; make it once with `clusterRules`, then ask per node. */
export interface ClusterRules {
  readonly input: ClusterRulesInput;
  /** kube-proxy's service ports, with no endpoint local. */
  readonly ports: readonly ServicePortInfo[];
  /** Indexes into `ports` of the service ports that depend on the node, in loop order. */
  readonly perNode: readonly number[];
  /** Whether any of those reads the node's IP (loadBalancerSourceRanges). */
  readonly readsNodeIP: boolean;
  readonly base: readonly BaseTable[];
  /** Rulesets already built, by the node-dependent inputs that made them (`nodeKey`). */
  readonly built: Map<string, RulesetFile>;
  /**
   * One node-dependent service port's rules, by its index and what it reads of the node (which
   * endpoints are local, and the node's IP if it has source ranges): most nodes have none of a
   * service's few endpoints, so they share one writing of it.
   */
  readonly written: Map<string, ChainRules>;
}

/** One table with every writer applied except the node-dependent service ports. */
interface BaseTable {
  readonly table: Table;
  /** How many built-in chains come first in `table.chains`, and the user chains' names after them (sorted). */
  readonly builtins: number;
  readonly userNames: readonly string[];
  /**
   * For the chains kube-proxy declares before its service loop (the ones many service ports write
   * into): how many base rules precede the n-th node-dependent service port's rules.
   */
  readonly cuts: ReadonlyMap<string, Int32Array>;
}

export function clusterRules(input: ClusterRulesInput): ClusterRules {
  const ports = kubeProxyView(input, null);
  const perNode = ports.flatMap((sp, i) => (dependsOnNode(sp) ? [i] : []));
  const isPerNode = new Set(perNode);
  // The node's IP is read only by node-dependent service ports, so any address does here.
  const writer = proxyWriter(input, ports, "0.0.0.0");

  // kube-proxy's chains without the node-dependent service ports, noting where their rules go.
  const shared = newChainRules();
  writer.head(shared);
  const headChains = [...shared.chains].flatMap(([t, m]) => [...m.keys()].map((name) => ({ t, name })));
  const cuts = new Map<TableKey, Map<string, Int32Array>>();
  for (const { t, name } of headChains) {
    if (!cuts.has(t)) cuts.set(t, new Map());
    cuts.get(t)?.set(name, new Int32Array(perNode.length));
  }
  let n = 0;
  ports.forEach((sp, i) => {
    if (!isPerNode.has(i)) writer.servicePort(sp, shared);
    else {
      for (const { t, name } of headChains)
        (cuts.get(t)?.get(name) as Int32Array)[n] = shared.chains.get(t)?.get(name)?.length ?? 0;
      n++;
    }
  });
  writer.tail(shared);

  const { before, after } = otherWriters(input);
  const state = new NodeTables();
  for (const c of before) state.apply(c);
  state.apply({ chains: shared, ops: proxyJumps(input) });
  for (const c of after) state.apply(c);
  // A chain a later writer declares again is that writer's, not kube-proxy's: nothing goes into it.
  for (const c of after)
    for (const [t, m] of c.chains.chains) for (const name of m.keys()) cuts.get(t)?.delete(name);

  const base = tableOrder(input).flatMap((t) => {
    const table = state.table(t);
    return table ? [baseTable(table, cuts.get(t) ?? new Map())] : [];
  });
  return {
    input,
    ports,
    perNode,
    readsNodeIP: perNode.some(
      (i) => (ports[i] as ServicePortInfo).service.loadBalancerSourceRanges.length > 0,
    ),
    base,
    built: new Map(),
    written: new Map(),
  };
}

function baseTable(table: Table, cuts: ReadonlyMap<string, Int32Array>): BaseTable {
  const builtins = BUILTIN_CHAINS[table.name].length;
  return { table, builtins, userNames: table.chains.slice(builtins).map((c) => c.name), cuts };
}

/** The node's ruleset, identical to `buildNodeRuleset` with the cluster's input and this node. */
export function nodeRuleset(cluster: ClusterRules, node: NodeIdentity): RulesetFile {
  const k = nodeKey(cluster, node);
  const known = cluster.built.get(k);
  if (known) return known;
  const written = nodeDependentRules(cluster, node);
  for (const t of written.keys())
    if (!cluster.base.some((b) => b.table.name === t))
      throw new Error(`kube-proxy rules: a node-dependent service port writes table ${t}, which has no base`);
  const tables = cluster.base.map((b) => withNodeRules(b, written.get(b.table.name as TableKey)));
  const file = frame(cluster.input, tables);
  cluster.built.set(k, file);
  return file;
}

/** What the node-dependent service ports read of the node: which endpoints are local, and its IP. */
function nodeKey(cluster: ClusterRules, node: NodeIdentity): string {
  const local = cluster.perNode.map((i) =>
    (cluster.ports[i] as ServicePortInfo).endpoints
      .map((e) => (e.nodeName === node.nodeName ? 1 : 0))
      .join(""),
  );
  return `${cluster.readsNodeIP ? node.nodeIP : ""}|${local.join(",")}`;
}

/** One node-dependent service port's rules for one chain; `n` is its place among them. */
interface Piece {
  readonly n: number;
  readonly rules: readonly Rule[];
}

/** The node-dependent service ports' rules on this node, by table and chain, in loop order. */
function nodeDependentRules(cluster: ClusterRules, node: NodeIdentity): Map<TableKey, Map<string, Piece[]>> {
  const writer: ProxyWriter = proxyWriter(cluster.input, cluster.ports, node.nodeIP);
  const out = new Map<TableKey, Map<string, Piece[]>>();
  cluster.perNode.forEach((i, n) => {
    const sp = cluster.ports[i] as ServicePortInfo;
    let key = `${i}|`;
    for (const e of sp.endpoints) key += e.nodeName === node.nodeName ? "1" : "0";
    if (sp.service.loadBalancerSourceRanges.length > 0) key += `|${node.nodeIP}`;
    let one = cluster.written.get(key);
    if (one === undefined) {
      one = newChainRules();
      writer.servicePort(onNode(sp, node.nodeName), one);
      cluster.written.set(key, one);
    }
    for (const [t, chains] of one.chains) {
      let m = out.get(t);
      if (!m) {
        m = new Map();
        out.set(t, m);
      }
      for (const [name, rules] of chains) {
        const list = m.get(name) ?? [];
        list.push({ n, rules });
        m.set(name, list);
      }
    }
  });
  return out;
}

/** The base table with the node's rules spliced in; the base Table itself when they add nothing. */
function withNodeRules(b: BaseTable, written: Map<string, Piece[]> | undefined): Table {
  if (!written || written.size === 0) return b.table;
  const base = b.table.chains;
  const replaced: { at: number; chain: Chain }[] = [];
  const added: { at: number; chain: Chain }[] = [];
  for (const [name, pieces] of written) {
    const i = lowerBound(b.userNames, name);
    if (b.userNames[i] !== name) {
      const rules: Rule[] = [];
      for (const p of pieces) for (const r of p.rules) rules.push(r);
      added.push({ at: b.builtins + i, chain: userChain(name, rules) });
      continue;
    }
    const cuts = b.cuts.get(name);
    if (!cuts)
      throw new Error(
        `kube-proxy rules: chain ${name} is written by a node-dependent service port and another writer`,
      );
    const at = b.builtins + i;
    replaced.push({ at, chain: userChain(name, spliced((base[at] as Chain).rules, cuts, pieces)) });
  }
  added.sort((x, y) => byName(x.chain.name, y.chain.name));
  replaced.sort((x, y) => x.at - y.at);
  // One pass, into an array of the final size: the nat table has a chain per endpoint, and every
  // node with its own rules gets its own copy of the list.
  const chains = new Array<Chain>(base.length + added.length);
  let k = 0;
  let next = 0;
  let from = 0;
  // Base chains up to each added chain's place (copied in runs), the added chain, and so on.
  const copyTo = (end: number): void => {
    for (let i = from; i < end; i++) chains[k++] = base[i] as Chain;
    from = end;
  };
  for (const a of added) {
    copyTo(a.at);
    chains[k++] = a.chain;
  }
  copyTo(base.length);
  // The replaced chains, each moved by the added chains before it.
  for (const r of replaced) {
    while (next < added.length && (added[next] as { at: number }).at <= r.at) next++;
    chains[r.at + next] = r.chain;
  }
  return { ...b.table, chains };
}

/** The base rules with each piece inserted where its service port's rules would have been written. */
function spliced(base: readonly Rule[], cuts: Int32Array, pieces: readonly Piece[]): Rule[] {
  // Into an array of the final size: KUBE-SERVICES has a rule per service port, copied per node.
  let size = base.length;
  for (const p of pieces) size += p.rules.length;
  const out = new Array<Rule>(size);
  let k = 0;
  let from = 0;
  for (const p of pieces) {
    const to = cuts[p.n] as number;
    for (let i = from; i < to; i++) out[k++] = base[i] as Rule;
    for (const r of p.rules) out[k++] = r;
    from = to;
  }
  for (let i = from; i < base.length; i++) out[k++] = base[i] as Rule;
  return out;
}

/** The first index in the sorted `names` whose name is not before `name`. */
function lowerBound(names: readonly string[], name: string): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byName(names[mid] as string, name) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
