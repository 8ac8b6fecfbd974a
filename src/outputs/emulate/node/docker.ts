import type { DockerContainer, NodeState } from "../../../model/node.ts";
import { tabwrite } from "../kubectl/tabwriter.ts";
import type { CommandResult } from "../types.ts";

/**
 * `docker ps [-q]` and `docker inspect --format TEMPLATE ID…` as docker 18.09 (the seed's nodes) prints
 * them, from node.containers and the virtual clock. Every modelled container is running and started
 * when it was created.
 */

/**
 * go-units HumanDuration (docker/go-units duration.go), which `docker ps` uses for CREATED ("… ago")
 * and STATUS ("Up …"). Hours round to the nearest (`d.Hours() + 0.5`); everything else truncates.
 */
export function humanDuration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const minutes = Math.floor(s / 60);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(s / 3600 + 0.5);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(s / 3600 / 24 / 365)} years`;
}

/** docker's formatter Ellipsis(): at most `max` runes, the last one `…` when cut. */
function ellipsis(text: string, max: number): string {
  const runes = [...text];
  return runes.length <= max ? text : `${runes.slice(0, max - 1).join("")}…`;
}

/** Newest first, as the daemon lists them; containers created in the same second keep the model's order reversed. */
function running(node: NodeState): DockerContainer[] {
  return node.containers
    .map((c, i) => [c, i] as const)
    .sort((a, b) => b[0].createdAt - a[0].createdAt || b[1] - a[1])
    .map(([c]) => c);
}

/** Config.Image as dockershim set it: a tagged name, a repository's digest, or an image ID. */
export type ConfigImage =
  | { readonly tagged: string }
  | { readonly digestOf: string }
  | { readonly id: string };

/**
 * The kubelet creates a container from the ref EnsureImageExists returns: after a pull, the image's
 * first repo digest (`repo@sha256:…`, dockershim's getImageRef in pkg/kubelet/dockershim/docker_image.go);
 * for an image already on the node, its ID (`sha256:…`, kuberuntime_image.go GetImageRef →
 * ImageStatus.Id). Sandboxes are created from the tagged pause image. The model records only the spec's image, so a pod's containers are taken as pulled for it
 * (seed line 205).
 */
function configImage(c: DockerContainer): ConfigImage {
  if (c.sandbox) return { tagged: c.image };
  const slash = c.image.lastIndexOf("/");
  const colon = c.image.lastIndexOf(":");
  return { digestOf: colon > slash ? c.image.slice(0, colon) : c.image };
}

/**
 * The IMAGE cell, as docker's formatter prints Config.Image (cli/command/formatter/container.go,
 * Image(), truncating): an image ID as its first 12 hex digits; a digest reference trimmed to its
 * name (`erjosito/whereami`, seed line 205); a tagged one as it is (`k8s.gcr.io/pause-amd64:3.1`).
 */
export function imageCell(ref: ConfigImage): string {
  if ("id" in ref) return ref.id.replace(/^sha256:/, "").slice(0, 12);
  return "digestOf" in ref ? ref.digestOf : ref.tagged;
}

function ps(node: NodeState, args: readonly string[], now: number): CommandResult {
  let quiet = false;
  for (const a of args) {
    if (a === "-q" || a === "--quiet") quiet = true;
    else if (a !== "-a" && a !== "--all")
      return {
        stdout: "",
        stderr: `packetwalk: docker ps ${a} is not emulated (only -q, -a)\n`,
        exitCode: 125,
      };
  }
  const list = running(node);
  if (quiet) return { stdout: list.map((c) => `${c.id.slice(0, 12)}\n`).join(""), stderr: "", exitCode: 0 };
  // cli/command/formatter/container.go: `"` + Ellipsis(command, 20) + `"`, with strconv.Quote's escaping.
  const rows = [
    ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
    ...list.map((c) => [
      c.id.slice(0, 12),
      imageCell(configImage(c)),
      JSON.stringify(ellipsis(c.command, 20)),
      `${humanDuration(now - c.createdAt)} ago`,
      `Up ${humanDuration(now - c.createdAt)}`,
      "",
      c.name,
    ]),
  ];
  // cli/command/formatter: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0).
  return { stdout: tabwrite(rows, { minwidth: 20, padding: 3 }), stderr: "", exitCode: 0 };
}

/** The fields of `docker inspect` the templates reach; `.Name` carries the leading slash. */
function field(c: DockerContainer, path: string): string | null {
  switch (path) {
    case ".ID":
    case ".Id":
      return c.id;
    case ".Name":
      return `/${c.name}`;
    case ".State.Pid":
      return String(c.pid);
    case ".State.Running":
      return "true";
    case ".State.Status":
      return "running";
    case ".Config.Image":
      return c.image;
    case ".Image":
      return c.image;
    default:
      return null;
  }
}

/** A Go text/template subset: literal text and `{{ .Field.Path }}` actions. */
function render(template: string, c: DockerContainer): { text: string } | { error: string } {
  let out = "";
  let rest = template;
  for (;;) {
    const open = rest.indexOf("{{");
    if (open < 0) return { text: out + rest };
    const close = rest.indexOf("}}", open);
    if (close < 0) return { error: `template: :1: unclosed action` };
    out += rest.slice(0, open);
    const path = rest.slice(open + 2, close).trim();
    const value = field(c, path);
    if (value === null)
      return { error: `packetwalk: docker inspect template field ${JSON.stringify(path)} is not emulated` };
    out += value;
    rest = rest.slice(close + 2);
  }
}

/** A full ID, a unique prefix of one, or a name (with or without its slash). */
function find(node: NodeState, ref: string): DockerContainer | null {
  const name = ref.startsWith("/") ? ref.slice(1) : ref;
  const byName = node.containers.find((c) => c.name === name);
  if (byName) return byName;
  const hits = node.containers.filter((c) => c.id.startsWith(ref));
  return hits.length === 1 ? hits[0]! : null;
}

function inspect(node: NodeState, args: readonly string[]): CommandResult {
  let format: string | null = null;
  const refs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--format" || a === "-f") format = args[++i] ?? "";
    else if (a.startsWith("--format=")) format = a.slice("--format=".length);
    else if (a.startsWith("-"))
      return { stdout: "", stderr: `packetwalk: docker inspect ${a} is not emulated\n`, exitCode: 125 };
    else refs.push(a);
  }
  if (format === null)
    return {
      stdout: "",
      stderr: "packetwalk: docker inspect without --format is not emulated\n",
      exitCode: 125,
    };
  if (refs.length === 0)
    return { stdout: "", stderr: '"docker inspect" requires at least 1 argument.\n', exitCode: 1 };
  let stdout = "";
  let stderr = "";
  for (const ref of refs) {
    const c = find(node, ref);
    if (!c) {
      stderr += `Error: No such object: ${ref}\n`;
      continue;
    }
    const r = render(format, c);
    if ("error" in r) return { stdout, stderr: `${stderr}${r.error}\n`, exitCode: 1 };
    stdout += `${r.text}\n`;
  }
  return { stdout, stderr, exitCode: stderr ? 1 : 0 };
}

/** `docker ps|inspect …` on a node at `now` (Unix seconds). */
export function docker(node: NodeState, args: readonly string[], now: number): CommandResult {
  const [sub, ...rest] = args;
  if (sub === "ps") return ps(node, rest, now);
  if (sub === "inspect") return inspect(node, rest);
  return {
    stdout: "",
    stderr: `packetwalk: docker ${sub ?? ""} is not emulated (only ps, inspect --format)\n`,
    exitCode: 125,
  };
}
