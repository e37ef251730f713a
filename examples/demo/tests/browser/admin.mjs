// The admin in headless Chromium: log in at /admin/login/, add a row, find it by search, edit
// it, delete it (through the confirmation page), with the keyboard where a user would use it.
// Run by tests/browser.rs: `node admin.mjs http://127.0.0.1:PORT USER PASSWORD [screenshot dir]`.
// Exits 0 on success, 1 on a failed check, 2 when the whole run takes too long.
import { chromium } from "playwright-core";

const [base, username, password, shots] = process.argv.slice(2);
if (!base || !username || !password) {
  console.error("usage: node admin.mjs <base-url> <username> <password> [screenshot-dir]");
  process.exit(1);
}
const executablePath = process.env.CANTER_TEST_CHROMIUM || "/usr/bin/chromium";
const STEP_MS = 10_000;
const overall = setTimeout(() => {
  console.error("admin.mjs: gave up after 40 s");
  process.exit(2);
}, 40_000);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function shot(page, name) {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"], timeout: STEP_MS });
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.setDefaultTimeout(STEP_MS);
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));

  // Anonymous: the admin sends us to its login page; log in with the keyboard.
  await page.goto(`${base}/admin/demo/mymodel/`);
  check(page.url().includes("/admin/login/?next="), `not sent to the login page: ${page.url()}`);
  await page.fill("#id_username", username);
  await page.fill("#id_password", password);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/admin\/demo\/mymodel\/$/);
  const styled = await page.locator("header.site").evaluate((el) => getComputedStyle(el).display);
  check(styled === "flex", `the admin's stylesheet did not apply (header is ${styled})`);

  // Add a row.
  const name = `browser row ${Date.now()}`;
  await page.click("a.addlink");
  await page.fill("#id_name", name);
  await page.check("#id_active");
  await page.click("button[name=_save]");
  await page.locator(".messages li", { hasText: "was added successfully" }).waitFor();

  // Find it by search.
  await page.fill("#searchbar", name);
  await page.keyboard.press("Enter");
  await page.locator("#result-count", { hasText: "1 result" }).waitFor();
  await shot(page, "admin-change-list");
  await page.click(`#result_list a:text-is("${name}")`);

  // Edit it.
  await page.waitForURL(/\/change\/$/);
  await shot(page, "admin-change-form");
  await page.fill("#id_name", `${name} edited`);
  await page.click("button[name=_continue]");
  await page.locator(".messages li", { hasText: "was changed successfully" }).waitFor();
  check((await page.inputValue("#id_name")) === `${name} edited`, "the edit was not kept");

  // The select-all box selects and counts the rows (the admin's JavaScript).
  await page.goto(`${base}/admin/demo/mymodel/`);
  await page.check("#action-toggle");
  const counter = (await page.locator(".action-counter").textContent()).trim();
  check(/^(\d+) of \1 selected$/.test(counter) && !counter.startsWith("0 "), `select all: ${counter}`);
  await page.uncheck("#action-toggle");

  // Delete it, through the confirmation.
  await page.click(`#result_list a:text-is("${name} edited")`);
  await page.click("a.deletelink");
  await page.locator("h1", { hasText: "Are you sure?" }).waitFor();
  await page.click("button.danger");
  await page.locator(".messages li", { hasText: "was deleted successfully" }).waitFor();
  await page.fill("#searchbar", name);
  await page.keyboard.press("Enter");
  await page.locator("#result-count", { hasText: "0 results" }).waitFor();
  check(pageErrors.length === 0, `page errors: ${pageErrors.join("; ")}`);
  console.log("ok: admin added, found, edited and deleted a row");
} catch (error) {
  failed = true;
  console.error(`admin.mjs: ${error.message}`);
} finally {
  await browser.close().catch(() => {});
  clearTimeout(overall);
}
process.exit(failed ? 1 : 0);
