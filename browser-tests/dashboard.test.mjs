// The dashboard in a real browser: playwright-core driving the machine's Chromium
// (/usr/bin/chromium, or CHROMIUM_PATH), never a downloaded one. `cargo xtask test`
// (or `cargo xtask browser`) starts junction-sandbox, junction-api and
// junction-worker on a fresh database and runs this file with:
//   JUNCTION_URL       the API, e.g. http://127.0.0.1:41234
//   JUNCTION_API_KEY   the workspace's API key (typed into the sign-in form)
//   SANDBOX_URL        the sandbox (its catalog gives the values that connect)
//   ARTIFACTS          where screenshots go (gitignored)
// Every page must render without console errors and request nothing from another
// host (the provider's consent page aside, which is the provider's).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.JUNCTION_URL;
const apiKey = process.env.JUNCTION_API_KEY;
const sandbox = process.env.SANDBOX_URL;
const artifacts = process.env.ARTIFACTS ?? "artifacts";
assert.ok(base && apiKey && sandbox, "JUNCTION_URL, JUNCTION_API_KEY and SANDBOX_URL are required");
const origin = new URL(base).origin;
mkdirSync(artifacts, { recursive: true });

let browser;
let context;
let page;
let catalog;
/** Console errors and foreign requests, with the page they happened on. */
const problems = [];
/** While on the provider's consent page, its own requests are the provider's. */
let atProvider = false;
let shot = 0;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  page = await context.newPage();
  const sandboxOrigin = new URL(sandbox).origin;
  const atOurs = () => new URL(page.url()).origin === origin;
  page.on("console", (message) => {
    if (message.type() !== "error" || !atOurs()) return;
    // A page answered with an error status on purpose (a refused form is a 422, an
    // unknown page a 404): Chromium reports the document's status as a console
    // error. That is the page working; anything else is a problem.
    const documentStatus =
      message.text().startsWith("Failed to load resource") && message.location().url === page.url();
    if (!documentStatus) problems.push(`console error on ${page.url()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error on ${page.url()}: ${error}`));
  page.on("response", (response) => {
    const request = response.request();
    if (response.status() >= 400 && request.resourceType() !== "document" && new URL(request.url()).origin === origin) {
      problems.push(`${response.status()} for ${request.url()} on ${page.url()}`);
    }
  });
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol === "data:" || url.origin === origin) return;
    // The provider's consent page and what it loads are the provider's.
    const provider = url.origin === sandboxOrigin && (atProvider || request.isNavigationRequest());
    if (!provider) problems.push(`request to another host from ${page.url()}: ${request.url()}`);
  });
  const response = await fetch(new URL("/_sandbox/catalog", sandbox));
  catalog = await response.json();
});

after(async () => {
  await browser?.close();
});

function entry(provider) {
  const found = catalog.providers.find((p) => p.provider === provider);
  assert.ok(found, `the sandbox's catalog has ${provider}`);
  return found;
}

/** Screenshots the page as an artifact, and checks nothing went wrong since the
 * last check (each problem is reported once). */
async function check(name) {
  shot += 1;
  await page.screenshot({ path: join(artifacts, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
  const found = problems.splice(0);
  assert.deepEqual(found, [], `problems on ${name}`);
}

async function goto(path) {
  const response = await page.goto(new URL(path, base).toString());
  return response;
}

async function fillConfig(values) {
  for (const [name, value] of Object.entries(values ?? {})) {
    const field = page.locator(`#f-${name}`);
    if ((await field.count()) === 0) continue;
    const kind = await field.evaluate((el) => (el.tagName === "SELECT" ? "select" : el.type));
    if (kind === "checkbox") {
      await field.setChecked(Boolean(value));
    } else if (kind === "select") {
      await field.selectOption(String(value));
    } else {
      await field.fill(typeof value === "string" ? value : JSON.stringify(value));
    }
  }
}

test("a signed-out visit redirects to sign-in", async () => {
  await goto("/dashboard/operations");
  assert.match(page.url(), /\/dashboard\/sign-in\?next=%2Fdashboard%2Foperations/);
  await check("sign-in");
});

test("sign in with the workspace API key", async () => {
  await page.fill("#api_key", "jct_wrong-key-000000000000000000000000000000");
  await page.click("button[type=submit]");
  await page.locator("#api_key-error").waitFor();
  assert.match(await page.locator("#api_key-error").innerText(), /not valid/);
  await page.fill("#api_key", apiKey);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/dashboard\/operations$/);
  assert.equal(await page.locator("h1").innerText(), "Operations");
  assert.ok(!(await page.content()).includes(apiKey), "the key is never put in a page");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "junction_session");
  assert.ok(session?.httpOnly, "the session cookie is HttpOnly");
  assert.equal(session.sameSite, "Lax");
  await check("operations-empty");
});

let stripeId;

test("connect Stripe: a wrong key is refused by its field, the right one connects", async () => {
  const stripe = entry("stripe");
  await goto("/dashboard/integrations");
  await check("integrations-empty");
  await page.fill("#q", "pay");
  await page.locator("#catalog a[href='/dashboard/connect/stripe']").waitFor();
  await page.click("#catalog a[href='/dashboard/connect/stripe']");
  await page.waitForURL(/\/dashboard\/connect\/stripe$/);
  await fillConfig(stripe.config);
  const keyField = Object.keys(stripe.credentials)[0];
  await fillConfig({ ...stripe.credentials, [keyField]: "sk_test_wrong" });
  await page.fill("#f-display_name", "Payments");
  await page.click("form.stack button[type=submit]");
  await page.locator(`#f-${keyField}-error`).waitFor();
  assert.match(await page.locator(`#f-${keyField}-error`).innerText(), /key rejected/);
  assert.equal(await page.locator(`#f-${keyField}`).getAttribute("aria-invalid"), "true");
  assert.equal(await page.inputValue("#f-display_name"), "Payments", "nothing typed is lost");
  await check("connect-stripe-refused");
  await fillConfig(stripe.credentials);
  await page.click("form.stack button[type=submit]");
  await page.waitForURL(/\/dashboard\/integrations\/[0-9a-f-]+\?done=connected$/);
  stripeId = page.url().match(/integrations\/([0-9a-f-]+)/)[1];
  assert.match(await page.locator(".notice.ok").innerText(), /Connected/);
  await check("stripe-overview");
});

test("sync now, then see the run finish", async () => {
  await goto(`/dashboard/integrations/${stripeId}`);
  await page.click("text=Sync now");
  await page.waitForURL(/\/runs\?done=(sync|joined)$/);
  // The list refreshes itself while the run is unfinished: no reload here.
  await page.locator("#runs tbody .badge.ok", { hasText: "succeeded" }).first().waitFor({ timeout: 60_000 });
  const statuses = await page.locator("#runs tbody .badge").allInnerTexts();
  assert.ok(!statuses.some((s) => s === "failed" || s === "dead"), `a run failed: ${statuses}`);
  await check("stripe-runs");
  await goto(`/dashboard/integrations/${stripeId}/records`);
  await check("stripe-records");
  await goto(`/dashboard/integrations/${stripeId}/log`);
  await check("stripe-log");
  await goto(`/dashboard/integrations/${stripeId}/actions`);
  await check("stripe-actions");
});

test("change the schedule", async () => {
  await goto(`/dashboard/integrations/${stripeId}`);
  await page.selectOption("#f-schedule_seconds", "21600");
  await page.click("text=Save settings");
  await page.waitForURL(/\?done=saved$/);
  assert.equal(await page.inputValue("#f-schedule_seconds"), "21600");
  assert.match(await page.locator("form[action$='/streams']").innerText(), /every 6 hours/);
  await check("stripe-schedule-saved");
});

test("copy the webhook URL and set its signing secret", async () => {
  await goto(`/dashboard/integrations/${stripeId}`);
  assert.match(await page.inputValue("#webhook-url"), new RegExp(`/webhooks/stripe/${stripeId}$`));
  // Stripe's own rule for the secret is the server's, said on the page.
  await page.fill("#webhook-secret", "whsec_not_valid!");
  await page.click("text=Save webhook settings");
  await page.locator(".notice.bad").waitFor();
  assert.match(await page.locator(".notice.bad").innerText(), /signing_secret/);
  await page.fill("#webhook-secret", "whsec_DashboardTest42");
  await page.click("text=Save webhook settings");
  await page.waitForURL(/\?done=webhook$/);
  assert.match(await page.locator("label[for=webhook-secret]").innerText(), /\(set;/);
  assert.ok(!(await page.content()).includes("whsec_DashboardTest42"), "a secret is never put in a page");
  await check("stripe-webhook-saved");
});

test("run an action and see its result", async () => {
  await goto(`/dashboard/integrations/${stripeId}/actions`);
  const form = page.locator("form[action$='/actions/create_customer']");
  await page.click("summary:has-text('Run create_customer')");
  await form.locator("#a-create_customer-name").fill("Ada Lovelace");
  await form.locator("#a-create_customer-email").fill("ada@example.com");
  await form.locator("button[type=submit]").click();
  await page.locator("#result-create_customer").waitFor();
  assert.match(await page.locator("#result-create_customer").innerText(), /Done: create_customer/);
  await check("stripe-action-result");
});

test("make a dead letter and replay it from the operations page", async () => {
  // A refund of a charge Stripe does not have, on the action queue: refused for
  // good, so the worker dead-letters it.
  await goto(`/dashboard/integrations/${stripeId}/actions`);
  const form = page.locator("form[action$='/actions/refund']");
  await page.click("summary:has-text('Run refund')");
  await form.locator("#a-refund-charge").fill("ch_dashboard_missing");
  await form.locator("input[name=_queue]").check();
  await form.locator("button[type=submit]").click();
  await page.locator("#result-refund").waitFor();
  assert.match(await page.locator("#result-refund").innerText(), /Queued/);
  const deadline = Date.now() + 60_000;
  for (;;) {
    await goto("/dashboard/operations");
    if ((await page.locator("table form[action^='/dashboard/dead-letters/'] button").count()) > 0) break;
    assert.ok(Date.now() < deadline, "no dead letter within a minute");
    await page.waitForTimeout(1000);
  }
  await check("operations-dead-letter");
  await page.locator("table form[action^='/dashboard/dead-letters/'] button").first().click();
  await page.waitForURL(/\/dashboard\/operations\?done=replayed$/);
  assert.match(await page.locator(".notice.ok").innerText(), /Replay queued/);
  await check("operations-replayed");
});

test("connect GA4 through the sandbox's consent page, and see its KPI chart", async () => {
  const ga4 = entry("google-analytics");
  await goto("/dashboard/connect/google-analytics");
  await fillConfig(ga4.config);
  await check("connect-ga4");
  atProvider = true;
  await page.click("form.stack button[type=submit]");
  await page.waitForURL((url) => url.origin === new URL(sandbox).origin);
  await page.click("button[value=approve]");
  await page.waitForURL((url) => url.origin === origin);
  atProvider = false;
  await page.waitForURL(/\/dashboard\/integrations\/[0-9a-f-]+\?done=authorized$/);
  const ga4Id = page.url().match(/integrations\/([0-9a-f-]+)/)[1];
  await check("ga4-overview");
  await page.click("text=Sync now");
  await page.waitForURL(/\/runs\?done=(sync|joined)$/);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const statuses = await page.locator("tbody .badge").allInnerTexts();
    if (statuses.includes("succeeded")) break;
    assert.ok(Date.now() < deadline, `the GA4 sync did not finish: ${statuses}`);
    await page.waitForTimeout(1000);
    await page.reload();
  }
  await goto(`/dashboard/integrations/${ga4Id}/kpis`);
  assert.ok((await page.locator("svg rect.bar").count()) > 0, "the KPI chart has bars");
  await check("ga4-kpis");
  await goto(`/dashboard/integrations/${ga4Id}/kpis?granularity=week`);
  await check("ga4-kpis-week");
});

test("connect GA4 without typing a property, pick it in the setup step, see its first sync", async () => {
  await goto("/dashboard/connect/google-analytics");
  assert.equal(await page.locator("#f-property_id").getAttribute("required"), null, "the property is optional up front");
  await page.fill("#f-display_name", "GA4 picked from the list");
  await check("connect-ga4-without-property");
  atProvider = true;
  await page.click("form.stack button[type=submit]");
  await page.waitForURL((url) => url.origin === new URL(sandbox).origin);
  await page.click("button[value=approve]");
  await page.waitForURL((url) => url.origin === origin);
  atProvider = false;
  // Back on the integration's page, at its setup step.
  await page.waitForURL(/\/dashboard\/integrations\/[0-9a-f-]+\?done=authorized#setup$/);
  const id = page.url().match(/integrations\/([0-9a-f-]+)/)[1];
  assert.match(await page.locator(".badge").first().innerText(), /finish setup/);
  const select = page.locator("#setup-property_id");
  assert.equal(await select.evaluate((el) => el.tagName), "SELECT");
  const values = await select.locator("option").evaluateAll((options) => options.map((o) => o.value));
  assert.deepEqual(values, ["123456789", "987654321", "555000111"], "the properties the account lists");
  await check("ga4-setup-step");
  await select.selectOption("987654321");
  await page.click("form[action$='/setup'] button[type=submit]");
  await page.waitForURL(/\?done=setup$/);
  assert.match(await page.locator(".notice.ok").innerText(), /Setup finished/);
  assert.equal(await page.locator("#setup").count(), 0, "no setup step left");
  assert.match(await page.locator(".badge").first().innerText(), /active/);
  // The settings form shows the property as a select holding the chosen one.
  const property = page.locator("#f-property_id");
  assert.equal(await property.evaluate((el) => el.tagName), "SELECT");
  assert.equal(await property.inputValue(), "987654321");
  await check("ga4-setup-finished");
  // The first sync is due at once: the worker's scheduler starts it by itself.
  await goto(`/dashboard/integrations/${id}/runs`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const statuses = await page.locator("tbody .badge").allInnerTexts();
    if (statuses.includes("succeeded")) break;
    assert.ok(!statuses.some((s) => s === "failed" || s === "dead"), `the first sync failed: ${statuses}`);
    assert.ok(Date.now() < deadline, `the first sync did not finish: ${statuses}`);
    await page.waitForTimeout(1000);
    await page.reload();
  }
  await check("ga4-setup-first-run");
  await goto(`/dashboard/integrations/${id}/records`);
  assert.ok((await page.locator("tbody tr").count()) > 0, "the first sync wrote records");
  await check("ga4-setup-records");
});

test("an OAuth consent denied comes back with a clear outcome", async () => {
  await goto("/dashboard/connect/google-analytics");
  await fillConfig(entry("google-analytics").config);
  atProvider = true;
  await page.click("form.stack button[type=submit]");
  await page.waitForURL((url) => url.origin === new URL(sandbox).origin);
  await page.click("button[value=deny]");
  await page.waitForURL((url) => url.origin === origin);
  atProvider = false;
  await page.locator(".notice.warn").waitFor();
  assert.match(await page.locator(".notice.warn").innerText(), /not granted/);
  await check("oauth-denied");
});

test("operations: the queue figures refresh by themselves", async () => {
  await goto("/dashboard/operations");
  const polled = page.waitForResponse((r) => r.url().endsWith("/dashboard/operations/queues") && r.status() === 200, { timeout: 15_000 });
  await polled;
  await check("operations");
});

test("disconnect, after a confirmation", async () => {
  await goto(`/dashboard/integrations/${stripeId}`);
  await page.click("a[href$='/disconnect']");
  await page.waitForURL(/\/disconnect$/);
  await check("disconnect-confirm");
  await page.click("button.danger");
  await page.waitForURL(/\/dashboard\/integrations\?done=disconnected$/);
  assert.equal(await page.locator(`a[href='/dashboard/integrations/${stripeId}']`).count(), 0, "the integration is gone");
  assert.match(await page.locator(".notice.ok").innerText(), /Disconnected/);
  await check("disconnected");
});

test("the basic flows work with JavaScript off", async () => {
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const tab = await plain.newPage();
  await tab.goto(new URL("/dashboard/sign-in", base).toString());
  await tab.fill("#api_key", apiKey);
  await tab.click("button[type=submit]");
  await tab.waitForURL(/\/dashboard\/integrations$/);
  // The catalog search is a plain GET form.
  await tab.fill("#q", "stripe");
  await tab.click("form[role=search] button");
  await tab.waitForURL(/\/dashboard\/integrations\?q=stripe$/);
  assert.deepEqual(await tab.locator("#catalog h3 + .grid .card h3").allInnerTexts(), ["Stripe"]);
  // The queue figures are there without polling.
  await tab.goto(new URL("/dashboard/operations", base).toString());
  assert.ok((await tab.locator("#queue-figures tbody tr").count()) > 0);
  shot += 1;
  await tab.screenshot({ path: join(artifacts, `${String(shot).padStart(2, "0")}-no-javascript.png`), fullPage: true });
  await plain.close();
});

test("sign out", async () => {
  await page.click("text=Sign out");
  await page.waitForURL(/\/dashboard\/sign-in\?signed_out=1$/);
  await goto("/dashboard/integrations");
  assert.match(page.url(), /\/dashboard\/sign-in/);
  await check("signed-out");
});
