import { netContains4, parseIpNet, parseIpv4 } from "../../core/ip.ts";
import type {
  BoxKind,
  EdgeKind,
  Layout,
  LayoutBox,
  LayoutEdge,
  LoadBalancerView,
  NodeView,
  PodView,
  TopologyView,
} from "./contract.ts";

/**
 * The page's picture of a topology, laid out without I/O or randomness: the internet hosts top
 * left, the Azure Load Balancer to their right (frontends, rules, probes, each backend's probe
 * state as child boxes), and below them the VNet with its subnets; the nodes' subnet holds the
 * nodes in a grid, each node its eth0/azure0/docker0/kube-proxy row and its pods in a grid, each
 * pod its veth pair. Box ids are the walk's place names (contract.ts).
 *
 * Drawing convention the sizes assume: a box's label and sublabel are drawn top-left, inset PAD,
 * one LINE each at FONT_SIZE; a box's children start below its two header lines. Labels that would
 * not fit are shortened in the middle (pod names keep their unique suffix); the topology has the
 * full names.
 *
 * Edges run through the gaps between boxes, not across them: a gutter left of the VNet, a channel
 * above each row of nodes, a lane left of each column of nodes (and of pods), so the eth0 an edge
 * enters is never hidden under another node.
 *
 * Size trade-off: the node grid (nodes per row) and each node's pod columns are chosen to show the
 * whole picture as large as possible in a 1280x800 viewport, but never wider than 2560 (so a
 * 1280-px viewport shows the full width at scale >= 0.5). One to three small nodes fit 1280x800 at
 * zoom 1; ten nodes of thirty pods come out about 2300-2530 wide and 3000 tall: the page scales
 * that width to fit (scale >= 0.5, text about 6 px) and the reader zooms into a node.
 */

export const FONT_SIZE = 12;
/** The text width estimate the sizes use: 0.6 em per character. */
const CHAR = 0.6 * FONT_SIZE;
export const LINE_HEIGHT = 16;
/** Text inset of ordinary boxes; the pods' small veth boxes use SMALL_PAD. */
export const PAD = 6;
const SMALL_PAD = 4;
/** Height of a two-line header (label and sublabel): where a box's children may start. */
export const HEADER = PAD + 2 * LINE_HEIGHT;
const LEAF_H = 2 * PAD + 2 * LINE_HEIGHT;
const SMALL_H = LINE_HEIGHT + 2 * 3;

const MARGIN = 12;
/** Left of the VNet: the lanes the load balancer's and the replies' edges take down and up. */
const GUTTER = 32;
const LB_LANE_X = 20;
const HOST_LANE_X = 10;
const BAND_GAP = 32;
const HOST_LB_GAP = 64;
const HOST_GAP = 12;
const LB_PAD = 10;
const LB_GAP = 8;
const LB_COL_GAP = 16;
const LB_ITEM_W = { min: 120, max: 224, backend: 256 };
const VNET_PAD = 12;
const SUBNET_GAP = 16;
/** Between node columns and rows: their lanes and channels. */
const NODE_GX = 24;
const NODE_GY = 24;
const NODE_PAD = 12;
const IFACE_GAP = 12;
/** Between the node's interface row and its pods: the channel the bridge's edges fan out along. */
const POD_CHANNEL = 16;
const POD_GX = 12;
const POD_GY = 8;
const POD_MIN_W = 190;
const VETH_GAP = 20;
const MAX_POD_COLS = 6;
const VIEW = { w: 1280, h: 800 };
const MAX_WIDTH = 2 * VIEW.w;

export function layoutOf(view: TopologyView): Layout {
  const shape = bestShape(view);
  const b = new Builder();
  const top = topBand(view);
  const vnet = vnetBlock(view, shape);
  top.place(b, MARGIN);
  const vnetY = MARGIN + top.h + BAND_GAP;
  vnet.place(b, GUTTER, vnetY);
  const width = Math.max(GUTTER + top.w, GUTTER + vnet.w) + MARGIN;
  const height = vnetY + vnet.h + MARGIN;
  edges(view, b, vnetY);
  return { width, height, fontSize: FONT_SIZE, boxes: b.boxes, edges: b.edges };
}

// ---------------------------------------------------------------------------------------------
// Text

function textW(text: string): number {
  return Math.ceil([...text].length * CHAR);
}

/** `text` shortened in the middle to fit `width` px (the tail keeps a replica's unique suffix). */
export function fitText(text: string, width: number): string {
  const chars = [...text];
  const max = Math.floor(width / CHAR);
  if (chars.length <= max) return text;
  if (max <= 1) return max === 1 ? "…" : "";
  const tail = Math.floor((max - 1) / 2);
  const head = max - 1 - tail;
  return `${chars.slice(0, head).join("")}…${chars.slice(chars.length - tail).join("")}`;
}

const leafW = (label: string, sublabel: string | null): number =>
  Math.max(textW(label), textW(sublabel ?? "")) + 2 * PAD;

// ---------------------------------------------------------------------------------------------
// Output

interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

class Builder {
  readonly boxes: LayoutBox[] = [];
  readonly edges: LayoutEdge[] = [];
  readonly byId = new Map<string, LayoutBox>();
  /** Per node: the lane left of its column and the channel above its row (subnet level). */
  readonly nodeRoutes = new Map<string, { lane: number; channel: number }>();
  /** Per pod: the lane left of its column and the channel above the node's pod grid. */
  readonly podRoutes = new Map<string, { lane: number; channel: number }>();

  box(
    id: string,
    kind: BoxKind,
    label: string,
    sublabel: string | null,
    r: Rect,
    parent: string | null,
    inset = PAD,
  ): void {
    const room = r.w - 2 * inset;
    const box: LayoutBox = {
      id,
      kind,
      label: fitText(label, room),
      sublabel: sublabel === null ? null : fitText(sublabel, room),
      x: r.x,
      y: r.y,
      w: r.w,
      h: r.h,
      parent,
    };
    this.boxes.push(box);
    this.byId.set(id, box);
  }

  edge(kind: EdgeKind, from: string, to: string, points: readonly { x: number; y: number }[]): void {
    const pts = points.filter((p, i) => i === 0 || p.x !== points[i - 1]?.x || p.y !== points[i - 1]?.y);
    this.edges.push({ id: `${kind}:${from}>${to}`, kind, from, to, points: pts });
  }
}

/** Something measured first and placed later: its size does not depend on where it goes. */
interface Block {
  readonly w: number;
  readonly h: number;
  place(b: Builder, x: number, y: number, parent: string | null): void;
}

function leaf(id: string, kind: BoxKind, label: string, sublabel: string | null, w?: number): Block {
  const width = w ?? leafW(label, sublabel);
  return {
    w: width,
    h: LEAF_H,
    place: (b, x, y, parent) => b.box(id, kind, label, sublabel, { x, y, w: width, h: LEAF_H }, parent),
  };
}

function stack(blocks: readonly Block[], gap: number): { w: number; h: number; at: number[] } {
  const at: number[] = [];
  let h = 0;
  for (const bl of blocks) {
    at.push(h);
    h += bl.h + gap;
  }
  return { w: Math.max(0, ...blocks.map((bl) => bl.w)), h: Math.max(0, h - gap), at };
}

function placeStack(
  b: Builder,
  blocks: readonly Block[],
  at: readonly number[],
  x: number,
  y: number,
  parent: string | null,
): void {
  blocks.forEach((bl, i) => {
    bl.place(b, x, y + (at[i] as number), parent);
  });
}

// ---------------------------------------------------------------------------------------------
// Top band: internet hosts, then the load balancer

function topBand(view: TopologyView): { w: number; h: number; place(b: Builder, y: number): void } {
  const hosts = outsideHosts(view).map((h) =>
    leaf(h.name, "host", h.name, h.ip, Math.max(120, leafW(h.name, h.ip))),
  );
  const col = stack(hosts, HOST_GAP);
  const lb = view.loadBalancers.length ? lbBlock(view.loadBalancers) : null;
  const lbX = hosts.length ? col.w + HOST_LB_GAP : 0;
  return {
    w: lb ? lbX + lb.w : col.w,
    h: Math.max(col.h, lb?.h ?? 0),
    place: (b, y) => {
      placeStack(b, hosts, col.at, GUTTER, y, null);
      lb?.place(b, GUTTER + lbX, y, null);
    },
  };
}

/** Hosts drawn in the top band: the internet ones, and any VNet host outside every subnet. */
function outsideHosts(view: TopologyView): TopologyView["hosts"] {
  return view.hosts.filter((h) => h.kind !== "vnet" || subnetOf(view, h.ip) === null);
}

/**
 * The load balancers: one is drawn straight inside the `azure-lb` box (its name in the sublabel),
 * several each in a box of its own inside it.
 */
function lbBlock(lbs: readonly LoadBalancerView[]): Block {
  const only = lbs.length === 1 ? (lbs[0] as LoadBalancerView) : null;
  const inner = only ? [lbColumns(only)] : lbs.map(lbSection);
  const at = stack(inner, LB_GAP);
  const label = "Azure Load Balancer";
  const sublabel = only ? `${only.name} · ${only.sku} SKU` : lbs.map((lb) => lb.name).join(", ");
  const w = Math.max(at.w + 2 * LB_PAD, leafW(label, sublabel));
  const h = HEADER + at.h + LB_PAD;
  return {
    w,
    h,
    place: (b, x, y, parent) => {
      b.box("azure-lb", "lb", label, sublabel, { x, y, w, h }, parent);
      placeStack(b, inner, at.at, x + LB_PAD, y + HEADER, "azure-lb");
    },
  };
}

interface LbItem {
  readonly id: string;
  readonly label: string;
  readonly sublabel: string;
}

function lbSection(lb: LoadBalancerView): Block {
  const id = `azure-lb/${lb.name}`;
  const sublabel = `${lb.sku} SKU`;
  const columns = lbColumns(lb);
  const w = Math.max(columns.w + 2 * LB_PAD, leafW(lb.name, sublabel));
  const h = HEADER + columns.h + LB_PAD;
  return {
    w,
    h,
    place: (b, x, y, parent) => {
      b.box(id, "lb", lb.name, sublabel, { x, y, w, h }, parent);
      columns.place(b, x + LB_PAD, y + HEADER, id);
    },
  };
}

/** Columns of frontends, rules, probes and backends, each a grid of small boxes. */
function lbColumns(lb: LoadBalancerView): Block {
  const id = `azure-lb/${lb.name}`;
  const columns: { items: LbItem[]; maxCols: number; maxW: number }[] = [
    {
      maxCols: 2,
      maxW: LB_ITEM_W.max,
      items: lb.frontends.map((f) => ({
        id: `${id}/frontend/${f.name}`,
        label: `frontend ${f.ip}`,
        sublabel: f.name,
      })),
    },
    {
      maxCols: 2,
      maxW: LB_ITEM_W.max,
      items: lb.rules.map((r) => ({
        id: `${id}/rule/${r.name}`,
        label: `rule ${r.protocol} ${r.frontendPort}→${r.backendPort}`,
        sublabel: `${r.frontendIp}${r.floatingIp ? " · floating IP" : ""}`,
      })),
    },
    {
      maxCols: 2,
      maxW: LB_ITEM_W.max,
      items: lb.probes.map((p) => ({
        id: `${id}/probe/${p.name}`,
        label: `probe ${p.protocol} :${p.port}${p.path ?? ""}`,
        sublabel: `every ${p.intervalSeconds}s, down after ${p.unhealthyThreshold}`,
      })),
    },
    {
      maxCols: 3,
      maxW: LB_ITEM_W.backend,
      items: lb.backends.map((be) => ({
        id: `${id}/backend/${be.node}`,
        label: be.node,
        sublabel: backendState(be),
      })),
    },
  ];
  const grids = columns.filter((c) => c.items.length > 0).map((c) => itemGrid(c.items, c.maxCols, c.maxW));
  return {
    w: grids.reduce((s, g) => s + g.w, 0) + LB_COL_GAP * Math.max(0, grids.length - 1),
    h: Math.max(0, ...grids.map((g) => g.h)),
    place: (b, x, y, parent) => {
      let cx = x;
      for (const g of grids) {
        g.place(b, cx, y, parent);
        cx += g.w + LB_COL_GAP;
      }
    },
  };
}

function backendState(be: LoadBalancerView["backends"][number]): string {
  const up = be.probes.filter((p) => p.up).length;
  if (be.probes.length === 0) return `${be.ip} · no probe`;
  if (be.probes.length === 1) return `${be.ip} · probe ${up ? "up" : "down"}`;
  return `${be.ip} · probes up ${up}/${be.probes.length}`;
}

/** Items top to bottom, at least 4 to a column, in at most `maxCols` columns. */
function itemGrid(items: readonly LbItem[], maxCols: number, maxW: number): Block {
  const rows = Math.max(4, Math.ceil(items.length / maxCols));
  const cols = Math.ceil(items.length / rows);
  const itemW = Math.min(maxW, Math.max(LB_ITEM_W.min, ...items.map((i) => leafW(i.label, i.sublabel))));
  const usedRows = Math.min(rows, items.length);
  return {
    w: cols * itemW + (cols - 1) * LB_GAP,
    h: usedRows * LEAF_H + (usedRows - 1) * LB_GAP,
    place: (b, x, y, parent) =>
      items.forEach((it, i) => {
        const r = { x: x + Math.floor(i / rows) * (itemW + LB_GAP), y: y + (i % rows) * (LEAF_H + LB_GAP) };
        b.box(it.id, "lb", it.label, it.sublabel, { ...r, w: itemW, h: LEAF_H }, parent);
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// The VNet: subnets with nodes (stacked), then the other subnets in a row below

interface Shape {
  /** Nodes per row in a subnet's node grid. */
  readonly perRow: number;
  /** Pod columns in every node. */
  readonly podCols: number;
}

function subnetOf(view: TopologyView, ip: string): string | null {
  const addr = parseIpv4(ip);
  if (addr === null) return null;
  for (const s of view.vnet.subnets) {
    const net = parseIpNet(s.cidr, 4);
    if (net?.family === 4 && netContains4(net, addr)) return s.name;
  }
  return null;
}

interface SubnetContent {
  readonly name: string;
  readonly cidr: string;
  readonly nodes: NodeView[];
  readonly hosts: TopologyView["hosts"][number][];
}

function subnetContents(view: TopologyView): SubnetContent[] {
  const subnets: SubnetContent[] = view.vnet.subnets.map((s) => ({ ...s, nodes: [], hosts: [] }));
  // A node outside every subnet (not in a twin the control plane built) joins the first one.
  if (subnets.length === 0 && view.nodes.length)
    subnets.push({ name: "nodes", cidr: "", nodes: [], hosts: [] });
  const find = (ip: string) => subnets.find((s) => s.name === subnetOf(view, ip));
  for (const n of view.nodes) (find(n.ip) ?? (subnets[0] as SubnetContent)).nodes.push(n);
  for (const h of view.hosts) if (h.kind === "vnet") find(h.ip)?.hosts.push(h);
  return subnets;
}

function vnetBlock(
  view: TopologyView,
  shape: Shape,
): { w: number; h: number; place(b: Builder, x: number, y: number): void } {
  const contents = subnetContents(view);
  const main = contents.filter((s) => s.nodes.length > 0).map((s) => subnetBlock(s, shape));
  const side = contents.filter((s) => s.nodes.length === 0).map((s) => subnetBlock(s, shape));
  const mainStack = stack(main, SUBNET_GAP);
  const sideW = side.reduce((s, bl) => s + bl.w, 0) + SUBNET_GAP * Math.max(0, side.length - 1);
  const sideH = Math.max(0, ...side.map((bl) => bl.h));
  const label = `VNet ${view.vnet.name}`;
  const w = Math.max(mainStack.w, sideW, leafW(label, view.vnet.cidr)) + 2 * VNET_PAD;
  const between = main.length && side.length ? SUBNET_GAP : 0;
  const h = HEADER + mainStack.h + between + sideH + VNET_PAD;
  return {
    w,
    h,
    place: (b, x, y) => {
      b.box("vnet", "vnet", label, view.vnet.cidr, { x, y, w, h }, null);
      placeStack(b, main, mainStack.at, x + VNET_PAD, y + HEADER, "vnet");
      let sx = x + VNET_PAD;
      for (const s of side) {
        s.place(b, sx, y + HEADER + mainStack.h + between, "vnet");
        sx += s.w + SUBNET_GAP;
      }
    },
  };
}

function subnetBlock(s: SubnetContent, shape: Shape): Block {
  const id = `vnet/${s.name}`;
  const label = `subnet ${s.name}`;
  const nodes = s.nodes.map((n) => nodeBlock(n, shape.podCols));
  const perRow = Math.max(1, Math.min(shape.perRow, nodes.length));
  const nodeW = Math.max(0, ...nodes.map((n) => n.w));
  const rows: Block[][] = [];
  nodes.forEach((n, i) => {
    if (i % perRow === 0) rows.push([]);
    rows[rows.length - 1]?.push(n);
  });
  const rowH = rows.map((r) => Math.max(...r.map((n) => n.h)));
  const gridW = nodes.length ? perRow * nodeW + (perRow - 1) * NODE_GX : 0;
  // The channel above the first row, the rows, the gaps between them.
  const gridH = rows.length ? rowH.reduce((a, h) => a + h + NODE_GY, 0) : 0;
  const hosts = s.hosts.map((h) => leaf(h.name, "host", h.name, h.ip, Math.max(120, leafW(h.name, h.ip))));
  const hostsW = hosts.reduce((a, h) => a + h.w, 0) + HOST_GAP * Math.max(0, hosts.length - 1);
  const hostsY = HEADER + gridH + (nodes.length ? NODE_GY / 2 : 0);
  const w = Math.max(gridW, hostsW, leafW(label, s.cidr) - 2 * PAD) + 2 * NODE_GX;
  const h = hostsY + (hosts.length ? LEAF_H : 0) + NODE_PAD;
  return {
    w,
    h,
    place: (b, x, y, parent) => {
      b.box(id, "subnet", label, s.cidr, { x, y, w, h }, parent);
      let ry = y + HEADER + NODE_GY;
      rows.forEach((row, r) => {
        row.forEach((n, c) => {
          const nx = x + NODE_GX + c * (nodeW + NODE_GX);
          n.place(b, nx, ry, id);
          b.nodeRoutes.set(s.nodes[r * perRow + c]?.name ?? "", {
            lane: nx - NODE_GX / 2,
            channel: ry - NODE_GY / 2,
          });
        });
        ry += (rowH[r] as number) + NODE_GY;
      });
      let hx = x + NODE_GX;
      for (const hb of hosts) {
        hb.place(b, hx, y + hostsY, id);
        hx += hb.w + HOST_GAP;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A node: header, interface row, pod grid

const drawnPods = (n: NodeView): PodView[] => n.pods.filter((p) => !p.hostNetwork);

function nodeBlock(node: NodeView, podCols: number): Block {
  const ifaces = node.interfaces.map((i) => {
    const sub = i.ips[0] ?? i.mac;
    return leaf(`${node.name}|${i.name}`, "iface", i.name, sub, Math.max(64, leafW(i.name, sub)));
  });
  const hc = node.healthCheckPorts.length ? `hc ${node.healthCheckPorts.join(" ")}` : "no hc port";
  ifaces.push(
    leaf(`${node.name}|kube-proxy`, "kube-proxy", "kube-proxy", hc, Math.min(200, leafW("kube-proxy", hc))),
  );
  const ifaceRowW = ifaces.reduce((a, i) => a + i.w, 0) + IFACE_GAP * (ifaces.length - 1);
  const pods = drawnPods(node).map(podBlock);
  const podW = Math.max(POD_MIN_W, ...pods.map((p) => p.w));
  const cols = Math.max(1, Math.min(podCols, pods.length));
  const podRows = Math.ceil(pods.length / cols);
  const gridW = pods.length ? cols * podW + (cols - 1) * POD_GX : 0;
  const labelW = Math.min(300, Math.max(textW(node.name), textW(node.ip)));
  const w = Math.max(ifaceRowW, gridW, labelW) + 2 * NODE_PAD;
  const ifaceY = HEADER + 4;
  const gridY = ifaceY + LEAF_H + POD_CHANNEL;
  const h = pods.length ? gridY + podRows * (POD_H + POD_GY) - POD_GY + NODE_PAD : ifaceY + LEAF_H + NODE_PAD;
  return {
    w,
    h,
    place: (b, x, y, parent) => {
      b.box(node.name, "node", node.name, node.ip, { x, y, w, h }, parent);
      let ix = x + NODE_PAD;
      for (const i of ifaces) {
        i.place(b, ix, y + ifaceY, node.name);
        ix += i.w + IFACE_GAP;
      }
      pods.forEach((p, i) => {
        const px = x + NODE_PAD + (i % cols) * (podW + POD_GX);
        p.place(b, px, y + gridY + Math.floor(i / cols) * (POD_H + POD_GY), node.name);
        const id = drawnPods(node)[i]?.id ?? "";
        b.podRoutes.set(id, { lane: px - POD_GX / 2, channel: y + gridY - POD_CHANNEL / 2 });
      });
    },
  };
}

const POD_H = HEADER + SMALL_H + PAD;

/** A pod: name and IP, and below them its host-side veth and its own eth0. */
function podBlock(pod: PodView): Block {
  const node = pod.id.slice(0, pod.id.length - pod.namespace.length - pod.name.length - 2);
  const smallW = (t: string) => textW(t) + 2 * SMALL_PAD;
  const pair =
    pod.hostVeth && pod.podIface ? { host: smallW(pod.hostVeth), pod: smallW(pod.podIface) } : null;
  const w = Math.max(POD_MIN_W, pair ? PAD + pair.host + VETH_GAP + pair.pod + PAD : 0);
  return {
    w,
    h: POD_H,
    place: (b, x, y, parent) => {
      b.box(pod.id, "pod", pod.name, pod.ip, { x, y, w, h: POD_H }, parent);
      if (!pair) return;
      const vy = y + HEADER;
      const host = { x: x + PAD, y: vy, w: pair.host, h: SMALL_H };
      b.box(`${node}|${pod.hostVeth}`, "iface", pod.hostVeth, null, host, pod.id, SMALL_PAD);
      const own = { x: host.x + host.w + VETH_GAP, y: vy, w: pair.pod, h: SMALL_H };
      b.box(`${pod.id}|${pod.podIface}`, "pod-iface", pod.podIface, null, own, pod.id, SMALL_PAD);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The shape: nodes per row and pod columns that show the whole picture largest

/**
 * Tries every nodes-per-row (up to 12) and pod-column count (up to 6) and keeps the one whose
 * whole picture fits 1280x800 at the largest scale (no credit above 1), among those at most 2560
 * wide; ties go to the smaller area, then to fewer nodes per row and fewer columns. Only sizes
 * are computed here, nothing is placed.
 */
function bestShape(view: TopologyView): Shape {
  const top = topBand(view);
  const maxPerRow = Math.max(1, Math.min(12, view.nodes.length));
  let best: { shape: Shape; key: readonly number[] } | null = null;
  for (let perRow = 1; perRow <= maxPerRow; perRow++) {
    for (let podCols = 1; podCols <= MAX_POD_COLS; podCols++) {
      const shape = { perRow, podCols };
      const vnet = vnetBlock(view, shape);
      const w = GUTTER + Math.max(top.w, vnet.w) + MARGIN;
      const h = MARGIN + top.h + BAND_GAP + vnet.h + MARGIN;
      // Smaller is better, compared in order: too wide (then by how much), scale lost, area.
      const scale = Math.round(Math.min(1, VIEW.w / w, VIEW.h / h) * 1000);
      const key = [w > MAX_WIDTH ? w : 0, -scale, w * h];
      if (!best || less(key, best.key)) best = { shape, key };
    }
  }
  return best?.shape ?? { perRow: 1, podCols: 1 };
}

function less(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Edges

type Pt = { x: number; y: number };

const right = (r: Rect, y = r.y + r.h / 2): Pt => ({ x: r.x + r.w, y });
const left = (r: Rect, y = r.y + r.h / 2): Pt => ({ x: r.x, y });
const bottom = (r: Rect, x = r.x + r.w / 2): Pt => ({ x, y: r.y + r.h });

function edges(view: TopologyView, b: Builder, vnetY: number): void {
  const lb = b.byId.get("azure-lb");
  const vnet = b.byId.get("vnet");
  const bandChannel = vnetY - BAND_GAP / 2;
  for (const h of outsideHosts(view)) {
    const hb = b.byId.get(h.name);
    if (!hb) continue;
    if (lb) {
      // Across the gap between the hosts' column and the LB, entering it level with the host if it can.
      const from = right(hb);
      const mx = lb.x - HOST_LB_GAP / 2;
      const ly = Math.min(Math.max(from.y, lb.y + 8), lb.y + lb.h - 8);
      b.edge("internet", h.name, "azure-lb", [from, { x: mx, y: from.y }, { x: mx, y: ly }, left(lb, ly)]);
    }
    if (vnet && h.kind === "internet") {
      // The way back (direct server return): out of the VNet's left side, up the gutter.
      const start = left(vnet, vnet.y + PAD + LINE_HEIGHT / 2);
      const end = left(hb);
      b.edge("internet", "vnet", h.name, [
        start,
        { x: HOST_LANE_X, y: start.y },
        { x: HOST_LANE_X, y: end.y },
        end,
      ]);
    }
  }
  const backends = new Set(view.loadBalancers.flatMap((l) => l.backends.map((be) => be.node)));
  for (const n of view.nodes) {
    const eth0 = b.byId.get(`${n.name}|eth0`);
    const route = b.nodeRoutes.get(n.name);
    if (!eth0 || !route) continue;
    if (lb && backends.has(n.name)) {
      // Down below the top band, left to the gutter, down to the node's row, along it to its column.
      const start = bottom(lb, lb.x + 16);
      const y = eth0.y + eth0.h / 3;
      b.edge("lb-backend", "azure-lb", `${n.name}|eth0`, [
        start,
        { x: start.x, y: bandChannel },
        { x: LB_LANE_X, y: bandChannel },
        { x: LB_LANE_X, y: route.channel - 3 },
        { x: route.lane - 4, y: route.channel - 3 },
        { x: route.lane - 4, y },
        left(eth0, y),
      ]);
    }
    if (vnet) {
      const y = eth0.y + (2 * eth0.h) / 3;
      b.edge("vnet", `${n.name}|eth0`, "vnet", [
        left(eth0, y),
        { x: route.lane + 4, y },
        { x: route.lane + 4, y: route.channel + 3 },
        left(vnet, route.channel + 3),
      ]);
    }
    nodeEdges(n, eth0, b);
  }
  for (const h of view.hosts) {
    const hb = b.byId.get(h.name);
    if (!vnet || !hb || hb.parent === null) continue;
    // A VM in a subnet below the nodes: straight down to the VNet's border.
    b.edge("vnet", h.name, "vnet", [bottom(hb), { x: hb.x + hb.w / 2, y: vnet.y + vnet.h }]);
  }
}

/** eth0 to the bridge, the bridge (or, without one, eth0 itself) to each pod's host veth, the veth pair. */
function nodeEdges(n: NodeView, eth0: LayoutBox, b: Builder): void {
  const azure0 = b.byId.get(`${n.name}|azure0`);
  if (azure0) b.edge("bridge-port", eth0.id, azure0.id, [right(eth0), left(azure0, eth0.y + eth0.h / 2)]);
  const hub = azure0 ?? eth0;
  for (const p of drawnPods(n)) {
    const veth = b.byId.get(`${n.name}|${p.hostVeth}`);
    const own = b.byId.get(`${p.id}|${p.podIface}`);
    const route = b.podRoutes.get(p.id);
    if (!veth || !own || !route) continue;
    const start = bottom(hub);
    const vy = veth.y + veth.h / 2;
    b.edge(azure0 ? "bridge-port" : "wire", hub.id, veth.id, [
      start,
      { x: start.x, y: route.channel },
      { x: route.lane, y: route.channel },
      { x: route.lane, y: vy },
      left(veth, vy),
    ]);
    b.edge("veth", veth.id, own.id, [right(veth, vy), left(own, vy)]);
  }
}
