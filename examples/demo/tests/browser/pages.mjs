// The demo's pages in headless Chromium: the stylesheet applies, the notes form shows a
// field's error and then adds a note (following the redirect), the upload form stores a file.
// Run by tests/browser.rs: `node pages.mjs http://127.0.0.1:PORT [screenshot dir]`.
// Exits 0 on success, 1 on a failed check, 2 when the whole run takes too long.
import { chromium } from "playwright-core";

const [base, shots] = process.argv.slice(2);
if (!base) {
  console.error("usage: node pages.mjs <base-url> [screenshot-dir]");
  process.exit(1);
}
const executablePath = process.env.CANTER_TEST_CHROMIUM || "/usr/bin/chromium";
const STEP_MS = 10_000;
const overall = setTimeout(() => {
  console.error("pages.mjs: gave up after 25 s");
  process.exit(2);
}, 25_000);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function shot(page, name) {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"], timeout: STEP_MS });
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  page.setDefaultTimeout(STEP_MS);
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));

  await page.goto(`${base}/`);
  // The stylesheet from /static/ applies: the cards are a grid.
  const display = await page.locator(".cards").evaluate((el) => getComputedStyle(el).display);
  check(display === "grid", `the stylesheet did not apply (.cards is ${display})`);
  await shot(page, "index");

  await page.goto(`${base}/notes/`);
  // Spaces pass the browser's `required`; the server strips them and says what is wrong.
  await page.fill("#id_title", "   ");
  await page.fill("#id_text", "a body kept across the error");
  await page.click("form.form button");
  await page.locator(".field.error .errorlist li", { hasText: "This field is required." }).waitFor();
  check((await page.inputValue("#id_text")) === "a body kept across the error", "the body was lost");
  await shot(page, "notes-error");
  await page.fill("#id_title", "Buy <milk> & bread");
  await page.click("form.form button");
  await page.waitForURL(`${base}/notes/`);
  await page.locator(".notes li strong", { hasText: "Buy <milk> & bread" }).waitFor();
  await shot(page, "notes");

  await page.goto(`${base}/upload/`);
  await page.setInputFiles("#id_file", {
    name: "hello world.txt",
    mimeType: "text/plain",
    buffer: Buffer.from("hello from the browser"),
  });
  await page.click("form.form button");
  await page.locator("#stored", { hasText: "hello_world" }).waitFor();
  await shot(page, "upload");

  await page.goto(`${base}/chat/lobby/?user=ada`);
  await page.locator("#status", { hasText: "connected as ada" }).waitFor();
  await page.fill("#text", "hello, lobby");
  await page.click("#send");
  await page.locator("#log li", { hasText: "ada: hello, lobby" }).waitFor();
  await shot(page, "chat");

  check(pageErrors.length === 0, `errors in the page: ${pageErrors.join("; ")}`);
  console.log("ok: pages styled, notes form and upload work");
} catch (error) {
  failed = true;
  console.error(`pages.mjs: ${error.message}`);
} finally {
  await browser.close();
  clearTimeout(overall);
}
process.exit(failed ? 1 : 0);
