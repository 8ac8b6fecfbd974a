import { parseImageRef } from "../../../controlplane/node/runtime.ts";
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

/** stringid.TruncateID: what follows the first `:` (an ID's `sha256:`), cut to 12 characters. */
function truncateId(id: string): string {
  return id.slice(id.indexOf(":") + 1).slice(0, 12);
}

/**
 * The IMAGE cell: docker's formatter over Config.Image (docker/cli 18.09
 * cli/command/formatter/container.go, Image(), with truncation). An image ID (its 12 digits are
 * the image's own) prints as those 12 digits (seed line 363, `c8e4ff7df026`); a reference prints in
 * its familiar form, a tag kept and a digest dropped: `erjosito/whereami` for the repo digest a
 * pull gives (line 205), `k8s.gcr.io/pause-amd64:3.1` for a sandbox. What does not parse as a
 * reference prints as it is. The daemon lists Config.Image as given when it still names the
 * container's image (moby daemon/list.go transformContainer), as every modelled one does.
 */
export function imageCell(configImage: string, imageId: string): string {
  if (configImage === "") return "<no image>";
  const trunc = truncateId(imageId);
  if (trunc === truncateId(configImage)) return trunc;
  const ref = parseImageRef(configImage);
  if (!ref) return configImage;
  return ref.tag === null ? ref.name : `${ref.name}:${ref.tag}`;
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
      imageCell(c.configImage, c.imageId),
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
      return c.configImage;
    case ".Image":
      return c.imageId;
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
