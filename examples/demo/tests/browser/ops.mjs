// The operations page in headless Chromium: open /ops/ (with the bearer token), open chat
// sockets and enqueue tasks from here, and see the numbers and a chart change without a
// reload. Run by tests/browser.rs: `node ops.mjs http://127.0.0.1:PORT TOKEN [SCREENSHOT_DIR]`.
// Prints `latency: N ms` (a task sent → its count on screen). Exits 0 on success, 1 on a
// failed check, 2 when the whole run takes too long.
import { chromium } from "playwright-core";

const [base, token, shots] = process.argv.slice(2);
if (!base || !token) {
  console.error("usage: node ops.mjs <base-url> <token> [screenshot-dir]");
  process.exit(1);
}
const executablePath = process.env.CANTER_TEST_CHROMIUM || "/usr/bin/chromium";
const room = `ops-${Date.now()}`;
const STEP_MS = 20_000;

const overall = setTimeout(() => {
  console.error("ops.mjs: gave up after 50 s");
  process.exit(2);
}, 50_000);

const stat = (page, id) =>
  page.locator(`[data-stat="${id}"]`).textContent().then((t) => Number(t));
const points = (page, chart, series) =>
  page.locator(`svg[data-chart="${chart}"] polyline[data-series="${series}"]`).getAttribute("points");

async function until(what, check) {
  const deadline = Date.now() + STEP_MS;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never saw ${what}`);
}

async function enqueue() {
  const response = await fetch(`${base}/tasks/pipeline/`, { method: "POST" });
  if (response.status !== 202) throw new Error(`pipeline: ${response.status}`);
}

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"], timeout: STEP_MS });
let failed = false;
try {
  const context = await browser.newContext({
    extraHTTPHeaders: { Authorization: `Bearer ${token}` },
    viewport: { width: 1280, height: 900 },
  });
  const ops = await context.newPage();
  ops.setDefaultTimeout(STEP_MS);
  const errors = [];
  ops.on("pageerror", (error) => errors.push(error.message));
  await ops.goto(`${base}/ops/`);
  await ops.evaluate(() => { window.notReloaded = true; });
  await until("the stream's first update", async () =>
    Number(await ops.locator("#ops-live").getAttribute("data-updates")) >= 1);
  const socketsBefore = await stat(ops, "sockets-open");
  const chartBefore = await points(ops, "channels", "open");

  // Two chat tabs: two sockets more on the page.
  const chats = [];
  for (const user of ["ann", "ben"]) {
    const chat = await context.newPage();
    await chat.goto(`${base}/chat/${room}/?user=${user}`);
    await chat.locator("#status", { hasText: `connected as ${user}` }).waitFor();
    chats.push(chat);
  }
  await until("two more sockets", async () => (await stat(ops, "sockets-open")) === socketsBefore + 2);
  await until("the sockets chart changing", async () => (await points(ops, "channels", "open")) !== chartBefore);

  // Tasks: the counts and the tasks chart move.
  const receivedBefore = await stat(ops, "tasks-received");
  const tasksChartBefore = await points(ops, "tasks", "received");
  const sent = Date.now();
  await enqueue();
  await until("the pipeline's tasks received", async () => (await stat(ops, "tasks-received")) > receivedBefore);
  const latency = Date.now() - sent;
  await enqueue();
  await until("six more tasks succeeded", async () => (await stat(ops, "tasks-succeeded")) >= 6);
  await until("the tasks chart changing", async () => (await points(ops, "tasks", "received")) !== tasksChartBefore);
  if (!(await ops.evaluate(() => window.notReloaded === true))) throw new Error("the page reloaded");
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  if (shots) {
    // A little longer, so the charts have a few points.
    await new Promise((r) => setTimeout(r, 3000));
    await ops.screenshot({ path: `${shots}/ops.png`, fullPage: true });
    await ops.locator("#ops-tasks").screenshot({ path: `${shots}/ops-tasks.png` });
  }
  console.log(`latency: ${latency} ms`);
  console.log("ok: ops page live");
} catch (error) {
  failed = true;
  console.error(`ops.mjs: ${error.message}`);
} finally {
  await browser.close().catch(() => {});
  clearTimeout(overall);
}
process.exit(failed ? 1 : 0);
