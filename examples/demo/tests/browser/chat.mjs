// Two tabs of headless Chromium open the demo's chat page for the same room; what one sends
// shows up in the other. Run by tests/browser.rs: `node chat.mjs http://127.0.0.1:PORT`.
// Exits 0 on success, 1 on a failed check, 2 when the whole run takes too long.
import { chromium } from "playwright-core";

const base = process.argv[2];
if (!base) {
  console.error("usage: node chat.mjs <base-url>");
  process.exit(1);
}
const executablePath = process.env.CANTER_TEST_CHROMIUM || "/usr/bin/chromium";
const room = `browser-${Date.now()}`;
const STEP_MS = 10_000;

// A hard stop well under the Rust test's own limit, whatever hangs (launch, a page, close).
const overall = setTimeout(() => {
  console.error("chat.mjs: gave up after 25 s");
  process.exit(2);
}, 25_000);

const pageErrors = [];

async function openTab(context, user) {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on("pageerror", (error) => pageErrors.push(`${user}: ${error.message}`));
  await page.goto(`${base}/chat/${room}/?user=${user}`);
  // Sending before the socket is open would be dropped by the page.
  await page.locator("#status", { hasText: `connected as ${user}` }).waitFor();
  return page;
}

async function say(page, text) {
  await page.fill("#text", text);
  await page.click("#send");
}

async function expectLine(page, who, line) {
  try {
    await page.locator("#log li", { hasText: line }).waitFor();
  } catch (error) {
    const log = await page.locator("#log li").allTextContents();
    throw new Error(`${who}'s tab never showed ${JSON.stringify(line)}; its log: ${JSON.stringify(log)}`);
  }
}

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox"],
  timeout: STEP_MS,
});
let failed = false;
try {
  const context = await browser.newContext();
  const ada = await openTab(context, "ada");
  const bob = await openTab(context, "bob");

  await say(ada, "hello from ada");
  await expectLine(bob, "bob", "ada: hello from ada");
  await expectLine(ada, "ada", "ada: hello from ada");
  // The form cleared its input once the message went out.
  if ((await ada.inputValue("#text")) !== "") throw new Error("ada's input was not cleared");

  await say(bob, "hi ada");
  await expectLine(ada, "ada", "bob: hi ada");

  if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join("; ")}`);
  console.log(`ok: two tabs chatted in room ${room}`);
} catch (error) {
  failed = true;
  console.error(`chat.mjs: ${error.message}`);
} finally {
  await browser.close();
  clearTimeout(overall);
}
process.exit(failed ? 1 : 0);
