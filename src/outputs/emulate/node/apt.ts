import type { CommandResult } from "../types.ts";

/**
 * `apt|apt-get install [-y] PKG…` on a node, as a terminal shows it. The twin's nodes already have
 * every tool packetwalk emulates (`brctl` among them), so a package that provides one is "already
 * the newest version"; anything else is not in the twin's package lists. The node's pending
 * upgrades are not modelled: "0 not upgraded".
 *
 * The seed installs bridge-utils on its Ubuntu 16.04 node (line 231, output elided). Versions:
 * xenial's bridge-utils 1.5-9ubuntu1 and jammy's 1.7-1ubuntu3 (their .deb names in published
 * install logs). apt 1.2 (xenial) ends the dependency line with blanks where its progress meter
 * was; apt 2.x (jammy) prints `Building dependency tree... Done`.
 */

type Release = "xenial" | "jammy";

/** Packages the twin's nodes hold, by Ubuntu release. */
const INSTALLED: Readonly<Record<Release, Readonly<Record<string, string>>>> = {
  xenial: { "bridge-utils": "1.5-9ubuntu1" },
  jammy: { "bridge-utils": "1.7-1ubuntu3" },
};

const HEADER: Readonly<Record<Release, string>> = {
  xenial:
    "Reading package lists... Done\nBuilding dependency tree       \nReading state information... Done\n",
  jammy:
    "Reading package lists... Done\nBuilding dependency tree... Done\nReading state information... Done\n",
};

/** Ubuntu 16.04 under the 2019 clusters (kubernetes 1.11), 22.04 under today's. */
export function ubuntuRelease(kubernetesVersion: string): Release {
  return kubernetesVersion.startsWith("1.11") ? "xenial" : "jammy";
}

const fail = (stderr: string, exitCode: number): CommandResult => ({ stdout: "", stderr, exitCode });

export function apt(tool: "apt" | "apt-get", args: readonly string[], release: Release): CommandResult {
  const [verb, ...rest] = args;
  if (verb !== "install")
    return fail(`packetwalk: ${tool} ${verb ?? ""} is not emulated (only install)\n`, 100);
  const packages: string[] = [];
  for (const a of rest) {
    if (a === "-y" || a === "--yes" || a === "--assume-yes" || a === "-q" || a === "-qq") continue;
    if (a.startsWith("-")) return fail(`packetwalk: ${tool} install ${a} is not emulated\n`, 100);
    packages.push(a);
  }
  const known = INSTALLED[release];
  let stdout = HEADER[release];
  // apt resolves every name before printing anything; an unknown one ends the run (exit 100).
  const missing = packages.find((p) => known[p] === undefined);
  if (missing !== undefined)
    return { stdout, stderr: `E: Unable to locate package ${missing}\n`, exitCode: 100 };
  for (const p of packages) stdout += `${p} is already the newest version (${known[p]}).\n`;
  stdout += "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n";
  return { stdout, stderr: "", exitCode: 0 };
}
