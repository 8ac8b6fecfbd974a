import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { BUILTIN_SCENARIOS } from "../../src/outputs/cli/commands/scenario.ts";
import { type CliIo, processIo } from "../../src/outputs/cli/io.ts";
import { freshTwin } from "../../src/outputs/cli/state/current.ts";
import { createApiState } from "../../src/outputs/web/api.ts";
import { type RunningServer, startServer } from "../../src/outputs/web/server.ts";

/**
 * The web view end to end, in Debian's Chromium driven by playwright-core: load the page, send the
 * seed's packet, step it to the pod and back, read the highlighted rules, compare Cluster with
 * Local, download a pcap, break the scenario. A screenshot of each state goes to test-artifacts/web/.
 */

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does, as root) to run the browser tests`;

const SHOTS = new URL("../../test-artifacts/web/", import.meta.url);
const NODE = "aks-nodepool1-31351229-0";
const POD = `${NODE}/default/whereami-564765b89-qfq2k`;

describe("web view in Chromium", { skip }, () => {
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];
  const foreign: string[] = [];

  const shot = (name: string) =>
    page.screenshot({ path: new URL(`${name}.png`, SHOTS).pathname, fullPage: true });
  const txt = async (l: Locator) => (await l.textContent()) ?? "";
  const text = (testId: string) => txt(page.getByTestId(testId).first());
  const main = () => page.getByTestId("canvas-main");
  const card = () => page.getByTestId("step-card-main");
  const stepField = (testId: string) => txt(card().getByTestId(testId));

  /** Presses a key until the main step card's `at` is `where` (and its action is `action`). */
  async function stepTo(where: string, action: string, key = "ArrowRight"): Promise<void> {
    for (let i = 0; i < 30; i++) {
      if ((await stepField("step-at")) === where && (await stepField("step-action")) === action) return;
      await page.keyboard.press(key);
    }
    assert.fail(`never reached ${where} (${action})`);
  }

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const io: CliIo = { stdout: () => {}, stderr: () => {}, readFile: processIo.readFile };
    const state = createApiState({
      main: { scenario: "seed-cluster", twin: freshTwin(io, "seed-cluster") },
      compare: { scenario: "seed-local", twin: freshTwin(io, "seed-local") },
      builtIn: BUILTIN_SCENARIOS,
    });
    server = await startServer({ host: "127.0.0.1", port: 0, state });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
    });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const origin = new URL(server.url).origin;
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("request", (r) => {
      if (!r.url().startsWith(origin)) foreign.push(r.url());
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it("draws the seed's topology and works offline", async () => {
    await page.goto(server!.url);
    await page.locator("body[data-ready=true]").waitFor();
    for (const id of [
      "laptop",
      "azure-lb",
      "vnet",
      NODE,
      `${NODE}|eth0`,
      `${NODE}|azure0`,
      `${NODE}|docker0`,
      POD,
    ])
      assert.equal(await main().getByTestId(`box-${id}`).count(), 1, `box ${id}`);
    assert.equal(await page.inputValue("#from"), "laptop");
    assert.equal(await page.inputValue("#to"), "51.144.176.251:80");
    // Zoom in and back to the fitted size.
    const fitted = await text("zoom-level");
    await page.getByTestId("zoom-in").click();
    assert.notEqual(await text("zoom-level"), fitted);
    await page.getByTestId("zoom-fit").click();
    assert.equal(await text("zoom-level"), fitted);
    await shot("01-loaded");
    assert.deepEqual(foreign, [], "the page loads nothing from elsewhere");
  });

  it("sends the seed's packet: two paths of 1/2", async () => {
    await page.getByTestId("send").click();
    await page.getByTestId("paths-main").waitFor();
    assert.match(await text("step-count"), /^Step 1 of \d+$/);
    assert.equal(await text("prob-main-1"), "1/2");
    assert.equal(await text("prob-main-2"), "1/2");
    assert.equal(await stepField("step-at"), "laptop");
    assert.equal(await main().getByTestId("packet").getAttribute("visibility"), "visible");
    await shot("02-sent");
  });

  it("steps by keyboard to the DNAT on the node: addresses and highlighted rules", async () => {
    await page.getByTestId("step-next").focus();
    await page.keyboard.press("j");
    assert.equal(await stepField("step-at"), "azure-lb");
    await page.keyboard.press("k");
    assert.equal(await stepField("step-at"), "laptop");
    await stepTo(NODE, "forwarded");
    assert.equal(await stepField("step-iface"), "azure0");
    assert.equal(await stepField("step-before"), "109.125.120.58:51535 > 51.144.176.251:80");
    assert.equal(await stepField("step-after"), "10.13.76.4:51535 > 10.13.76.26:80");
    assert.match(
      await stepField("step-conntrack"),
      /src=109\.125\.120\.58 dst=51\.144\.176\.251 .*\[UNREPLIED\]/,
    );
    // The rules hit, in order, at their iptables-save lines.
    const rules = card().getByTestId("step-rules");
    assert.match(await txt(rules.getByTestId("rule-71")), /KUBE-SERVICES.*-d 51\.144\.176\.251\/32/s);
    assert.match(await txt(rules.getByTestId("rule-39")), /KUBE-FW-7G2JV7LNOR6DDNIY.*KUBE-MARK-MASQ/s);
    assert.match(await txt(rules.getByTestId("rule-50")), /DNAT --to-destination 10\.13\.76\.26:80/);
    assert.match(await txt(rules.getByTestId("rule-46")), /MASQUERADE/);
    // The drawing lights the node's azure0, the iptables panel this step's lines.
    assert.equal(await main().locator(".box.current").getAttribute("data-id"), `${NODE}|azure0`);
    const line = (n: number) => page.getByTestId(`ipt-line-${n}`);
    await line(50).waitFor();
    for (const n of [31, 71, 39, 43, 40, 83, 50, 110, 125, 35, 46])
      assert.match((await line(n).getAttribute("class")) ?? "", /\bnow\b/, `iptables-save line ${n}`);
    assert.match(
      await txt(line(50)),
      /-A KUBE-SEP-6HBOEI5FVFTJNRJ3 .*DNAT --to-destination 10\.13\.76\.26:80/,
    );
    assert.doesNotMatch((await line(1).getAttribute("class")) ?? "", /\bhit\b/);
    await rules.scrollIntoViewIfNeeded();
    await shot("03-dnat");
  });

  it("reaches the pod, which sees the node's address (Cluster: SNAT)", async () => {
    await stepTo(POD, "delivered");
    assert.equal(await stepField("step-iface"), "eth0");
    assert.equal(await stepField("step-before"), "10.13.76.4:51535 > 10.13.76.26:80");
    assert.equal(await txt(card().getByTestId("pod-sees-main")), "10.13.76.4");
    assert.equal(await main().locator(".box.current").getAttribute("data-id"), `${POD}|eth0`);
    await card().getByTestId("pod-sees-main").scrollIntoViewIfNeeded();
    await shot("04-pod");
  });

  it("replies the direct-server-return way, and Home/End jump", async () => {
    await page.keyboard.press("ArrowRight");
    assert.match(await txt(card().getByTestId("step-title")), /reply/);
    assert.equal(await stepField("step-before"), "10.13.76.26:80 > 10.13.76.4:51535");
    await page.keyboard.press("End");
    assert.equal(await stepField("step-at"), "laptop");
    assert.equal(await stepField("step-action"), "delivered");
    assert.equal(await stepField("step-before"), "51.144.176.251:80 > 109.125.120.58:51535");
    const replySteps = await page.getByTestId("steps-main").locator(".step-item.reply").count();
    assert.ok(replySteps > 0);
    // The reply never goes through the load balancer.
    const replyAt = await page.getByTestId("steps-main").locator(".step-item.reply").allTextContents();
    assert.ok(!replyAt.some((t) => t.includes("azure-lb")), replyAt.join("\n"));
    await shot("05-reply");
    await page.keyboard.press("Home");
    assert.equal(
      await text("step-count"),
      `Step 1 of ${await page.getByTestId("steps-main").locator("li").count()}`,
    );
  });

  it("picks the other path: the other pod", async () => {
    await page.getByTestId("path-main-2").check();
    await page.getByTestId("step-last").click();
    await page.getByTestId("step-first").click();
    await stepTo(NODE, "forwarded");
    assert.equal(await stepField("step-after"), "10.13.76.4:51535 > 10.13.76.7:80");
    await page.getByTestId("path-main-1").check();
  });

  it("shows conntrack -L after the walk", async () => {
    await page.getByTestId("tab-conntrack").click();
    const ct = page.getByTestId("conntrack-text");
    await ct.waitFor();
    assert.match(await txt(ct), /src=109\.125\.120\.58 dst=51\.144\.176\.251 sport=51535 dport=80/);
    await shot("06-conntrack");
  });

  it("downloads an interface's pcap", async () => {
    await page.getByTestId("tab-captures").click();
    const links = page.getByTestId("captures").locator("a[download]");
    assert.ok((await links.count()) > 0, "a pcap per interface");
    const link = page.getByTestId(`pcap-${NODE}|eth0`);
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const file = await download.path();
    const magic = readFileSync(file).subarray(0, 4).toString("hex");
    assert.ok(["d4c3b2a1", "a1b2c3d4", "4d3cb2a1", "a1b23c4d"].includes(magic), `pcap magic ${magic}`);
    await shot("07-captures");
  });

  it("compares Cluster with Local: the source the pod sees, probe and rules differ", async () => {
    await page.getByTestId("tab-iptables").click();
    await page.getByTestId("compare-toggle").check();
    await page.getByTestId("walk-compare").getByTestId("paths-compare").waitFor();
    const diffs = page.getByTestId("differences");
    const seen = diffs.getByTestId("diff-sourceSeenByPod-1");
    assert.match(await txt(seen), /10\.13\.76\.4 vs 167\.220\.196\.180/);
    assert.match(await txt(diffs.getByTestId("diff-probe")), /Tcp 30064.* vs Http 32364 \/healthz/);
    assert.ok((await diffs.locator("[data-testid^=diff-chain-KUBE-XLB]").count()) > 0, "KUBE-XLB differs");
    assert.ok((await page.getByTestId("canvas-compare").locator(".diff-marker").count()) > 0, "markers");
    // At the node's DNAT, each side marks the rules only it hit.
    await page.keyboard.press("Home");
    await stepTo(NODE, "forwarded");
    const compareCard = page.getByTestId("step-card-compare");
    assert.match(await txt(compareCard.getByTestId("step-after")), /^167\.220\.196\.180:51535 > /);
    const mainOnly = await card().locator("li.differs").allTextContents();
    const compareOnly = await compareCard.locator("li.differs").allTextContents();
    assert.ok(
      mainOnly.some((t) => /KUBE-FW-\S+.*KUBE-MARK-MASQ/s.test(t)),
      mainOnly.join("\n"),
    );
    assert.ok(
      compareOnly.some((t) => /KUBE-FW-\S+.*KUBE-XLB-/s.test(t)),
      compareOnly.join("\n"),
    );
    await shot("08-compare");
    await stepTo(POD, "delivered");
    assert.equal(await txt(card().getByTestId("pod-sees-main")), "10.13.76.4");
    assert.equal(await txt(compareCard.getByTestId("pod-sees-compare")), "167.220.196.180");
    await shot("09-compare-pod");
    await page.getByTestId("compare-toggle").uncheck();
    assert.ok(await page.getByTestId("walk-compare").isHidden());
  });

  it("shows a broken scenario's error at its line, then loads a good one", async () => {
    await page.getByTestId("tab-scenario").click();
    const good = readFileSync(new URL("../../scenarios/seed-cluster.yaml", import.meta.url), "utf8");
    const bad = good.replace("nodeCount: 1", "nodeCount: one");
    const line = bad.split("\n").findIndex((l) => l.includes("nodeCount: one")) + 1;
    await page.getByTestId("scenario-text").fill(bad);
    await page.getByTestId("scenario-apply").click();
    const errors = page.getByTestId("scenario-errors");
    await errors.waitFor();
    assert.match(await txt(errors), new RegExp(`line ${line}\\b.*nodeCount`, "s"));
    assert.match((await page.getByTestId(`gutter-line-${line}`).getAttribute("class")) ?? "", /\berr\b/);
    await shot("10-scenario-error");
    // The page's 400 answer is the one console error expected here.
    assert.deepEqual(problems.splice(0), [
      "console: Failed to load resource: the server responded with a status of 400 (Bad Request)",
    ]);
    await page.getByTestId("scenario-text").fill(good);
    await page.getByTestId("scenario-apply").click();
    await page.getByText("Loaded seed-cluster.").waitFor();
    assert.ok(await errors.isHidden());
    assert.equal(await main().getByTestId(`box-${POD}`).count(), 1);
  });

  it("raised no errors in the page", () => {
    assert.deepEqual(problems, []);
    assert.deepEqual(foreign, []);
  });
});
