import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

/**
 * The seed ("A Day in the Life of a Packet in AKS, part 1"), whose printed outputs are the golden
 * outputs of the tests. test/golden/ holds a byte-identical copy of ../shared/seeds/000_4a8e1a6d95c3de0a.txt
 * so a clean checkout tests on its own; the test below checks the copy against the original when
 * the original is there.
 */
export const SEED_FILE = new URL("../golden/seed-000_4a8e1a6d95c3de0a.txt", import.meta.url);
export const SEED_ORIGINAL = new URL("../../../shared/seeds/000_4a8e1a6d95c3de0a.txt", import.meta.url);
export const SEED_TEXT: string = readFileSync(SEED_FILE, "utf8");

/**
 * The seed's lines as a terminal showed them: the blog pads its tables with no-break spaces, and its
 * pasted screens lose the trailing blanks tools print (iptables -L's header, brctl's empty cells).
 */
export const SEED_LINES: readonly string[] = SEED_TEXT.replaceAll("\u00a0", " ")
  .split("\n")
  .map((l) => l.trimEnd());

/**
 * The blog glued the next command onto line 100 (`…<none>lb=$(az network lb list …)`): the part of
 * a line that is the following paste, not output.
 */
const GLUED_COMMAND = /lb=\$\(.*$/;

/** `count` lines printed after the `occurrence`-th seed line containing `command`. */
export function seedLines(command: string, count: number, occurrence = 1): string[] {
  let seen = 0;
  const at = SEED_LINES.findIndex((l) => l.includes(command) && ++seen === occurrence);
  assert.ok(at >= 0, `the seed has no ${occurrence}. line with ${command}`);
  return SEED_LINES.slice(at + 1, at + 1 + count).map((l) => l.replace(GLUED_COMMAND, ""));
}

/** The `count` output lines after seed line `line` (1-based, as SEED-COMMANDS.md numbers them). */
export function seedOutput(line: number, count: number): string[] {
  return SEED_LINES.slice(line, line + count).map((l) => l.replace(GLUED_COMMAND, ""));
}

/**
 * The command typed at seed line `line`: on the node after its prompt (`jose@NODE:~$ `), or on the
 * laptop, with or without the blog's `$ `, or inside `var=$(…)`.
 */
export function seedCommand(line: number): { readonly where: "laptop" | "node"; readonly command: string } {
  const text = SEED_LINES[line - 1] ?? "";
  const node = /^\w+@[\w-]+:~\$ (.+)$/.exec(text);
  if (node) return { where: "node", command: node[1] as string };
  const laptop = /^(?:\$ )?(?:\w+=\$\((.+)\)|((?:k|az) .+))$/.exec(text);
  assert.ok(laptop, `seed line ${line} is not a command: ${JSON.stringify(text)}`);
  return { where: "laptop", command: (laptop[1] ?? laptop[2]) as string };
}

/** A tool's output as lines, trailing blanks dropped as the blog's pastes drop them. */
export function outputLines(text: string): string[] {
  return text
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => l.trimEnd());
}

/** kubectl AGE values (`24m`, `10h`) and the padding after them become one placeholder. */
export const ages = (lines: readonly string[]): string[] =>
  lines.map((l) => l.replace(/(?<=\s)\d+[smhd](\s+|$)/g, "<age> ").trimEnd());

/** What a terminal shows for tabs (tab stops every 8 columns): the blog shows brctl's tabs that way. */
export const expandTabs = (lines: readonly string[]): string[] =>
  lines.map((l) => {
    let out = "";
    for (const ch of l) out += ch === "\t" ? " ".repeat(8 - (out.length % 8)) : ch;
    return out;
  });

/** iptables -v's pkts and bytes columns (`3260  203K`). */
export const counters = (lines: readonly string[]): string[] =>
  lines.map((l) => l.replace(/^\s*\S+\s+\S+ /, "<counters> "));

/** brctl showmacs' ageing timer (seconds since the bridge last saw the MAC). */
export const ageing = (lines: readonly string[]): string[] =>
  lines.map((l) => l.replace(/\d+\.\d\d$/, "<ageing>"));

/**
 * docker ps' CREATED and STATUS (go-units HumanDuration: `About an hour ago`, `Up 11 minutes`). Both
 * columns are at their 20-character minimum width in the seed and in the twin, so the padding after
 * them collapses with the value.
 */
export const dockerAges = (lines: readonly string[]): string[] =>
  lines.map((l) =>
    l
      .replace(/(?:About an? \w+|\d+ \w+|Less than a second) ago +/g, "<created> ")
      .replace(/Up (?:About an? \w+|\d+ \w+|Less than a second) */g, "Up <age> "),
  );

/**
 * conntrack -L entries: the seconds left before the entry expires (third field) and the client's
 * ephemeral port (the original direction's sport, the reply's dport).
 */
export const conntrackEntries = (lines: readonly string[]): string[] =>
  lines.map((l) =>
    l
      .replace(/^(\w+ +\d+) +\d+ /, "$1 <timeout> ")
      .replace(
        /(src=\S+ dst=\S+ )sport=\d+( dport=\d+ .*?src=\S+ dst=\S+ sport=\d+ )dport=\d+/,
        "$1sport=<port>$2dport=<port>",
      ),
  );

/**
 * tcpdump lines: the timestamp, TCP sequence and acknowledgement numbers (the absolute ones of a
 * SYN and SYN-ACK; relative ones after, which tcpdump counts from them, stay), TCP timestamp values,
 * and the client's ephemeral port (every port but the server's `80`/`http`).
 */
export const tcpdumpLines = (lines: readonly string[]): string[] =>
  lines.map((l) =>
    l
      .replace(/^\d\d:\d\d:\d\d\.\d{6} /, "<time> ")
      .replace(/(\d+\.\d+\.\d+\.\d+)\.(\d+|[a-z][\w-]*)(?=[ :])/g, (m, addr: string, port: string) =>
        port === "80" || port === "http" ? m : `${addr}.<port>`,
      )
      .replace(/(Flags \[S\.?\], seq )\d+/, "$1<seq>")
      .replace(/(Flags \[S\.\], seq <seq>, ack )\d+/, "$1<ack>")
      .replace(/TS val \d+ ecr \d+/g, "TS val <ts> ecr <ts>"),
  );

/** ping's measured times: each reply's `time=`, the total `time …ms`, and the rtt summary. */
export const pingTimes = (lines: readonly string[]): string[] =>
  lines.map((l) =>
    l
      .replace(/ time=[\d.]+ ms$/, " time=<rtt> ms")
      .replace(/, time \d+ms$/, ", time <total>ms")
      .replace(/^rtt min\/avg\/max\/mdev = [\d./]+ ms$/, "rtt min/avg/max/mdev = <rtts> ms"),
  );
