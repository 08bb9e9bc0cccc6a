// The Connect UI (/connect?session=TOKEN) in a real browser, as a client's end user
// meets it: playwright-core driving the machine's Chromium (never a downloaded
// one), against the stack `cargo xtask browser` starts (see dashboard.test.mjs for
// the environment; DATABASE_URL is there too, to expire a session with psql).
//
// The client's site is played by a small HTTP server of this file on
// http://localhost:PORT (another origin than Junction's 127.0.0.1), put in the
// workspace's connect_return_urls: it opens the Connect page as a full page, in a
// popup and in an iframe, and records the `junction:connect` messages it receives.
// Every Junction page must render without console errors and request nothing from
// another host (the provider's consent page aside, which is the provider's).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.JUNCTION_URL;
const apiKey = process.env.JUNCTION_API_KEY;
const sandbox = process.env.SANDBOX_URL;
const databaseUrl = process.env.DATABASE_URL;
const artifacts = process.env.ARTIFACTS ?? "artifacts";
assert.ok(base && apiKey && sandbox && databaseUrl, "JUNCTION_URL, JUNCTION_API_KEY, SANDBOX_URL and DATABASE_URL are required");
const origin = new URL(base).origin;
const sandboxOrigin = new URL(sandbox).origin;
mkdirSync(artifacts, { recursive: true });

let browser;
let context;
let client;
let clientOrigin;
let catalog;
const problems = [];
let shot = 0;

/** The client's site: `/page?connect=URL&mode=popup|frame` opens the Connect page;
 * `/connected` is the return URL. Its pages record the messages they receive. */
function clientPage(url) {
  if (url.pathname === "/connected") {
    return "<!doctype html><title>Back at the client</title><h1>Back at the client</h1>";
  }
  const connect = url.searchParams.get("connect") ?? "";
  const frame = url.searchParams.get("mode") === "frame";
  return `<!doctype html><title>Client</title>
<script>
  window.messages = [];
  window.addEventListener("message", (event) => window.messages.push({ origin: event.origin, data: event.data }));
</script>
<h1>The client's app</h1>
<button id="open">Connect an account</button>
${frame ? `<iframe id="connect" title="Connect" src="${connect.replaceAll('"', "&quot;")}" width="480" height="720"></iframe>` : ""}
<script>
  document.getElementById("open").addEventListener("click", () =>
    window.open(${JSON.stringify(connect)}, "junction-connect", "popup,width=480,height=720"));
</script>`;
}

/** Watches a page (or popup) for console errors and foreign requests. */
function watch(page) {
  const at = () => new URL(page.url()).origin;
  page.on("console", (message) => {
    // Junction's pages, framed ones included (the client's page is the test's own).
    const source = message.location().url || page.url();
    if (message.type() !== "error" || (at() !== origin && !source.startsWith(origin))) return;
    // A page answered with an error status on purpose (a refused form is a 422, a
    // dead link a 410): Chromium reports the document's status as a console error.
    const documentStatus =
      message.text().startsWith("Failed to load resource") && message.location().url === page.url();
    if (!documentStatus) problems.push(`console error on ${page.url()}: ${message.text()}`);
  });
  page.on("response", (response) => {
    const request = response.request();
    if (response.status() >= 400 && request.resourceType() !== "document" && new URL(request.url()).origin === origin) {
      problems.push(`${response.status()} for ${request.url()} on ${page.url()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error on ${page.url()}: ${error}`));
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol === "data:" || url.protocol === "about:") return;
    if (url.origin === origin || url.origin === clientOrigin) return;
    // The provider's consent page and what it loads are the provider's.
    const provider = url.origin === sandboxOrigin && (at() === sandboxOrigin || request.isNavigationRequest());
    if (!provider) problems.push(`request to another host from ${page.url()}: ${request.url()}`);
  });
  return page;
}

before(async () => {
  client = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(clientPage(new URL(req.url, "http://localhost")));
  });
  // Every address (IPv4 and IPv6): the browser may reach `localhost` by either.
  await new Promise((resolve) => client.listen(0, resolve));
  clientOrigin = `http://localhost:${client.address().port}`;
  const allowed = await api("PATCH", "/v1/workspace", { connect_return_urls: [`${clientOrigin}/`] });
  assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  // A phone-sized window: the Connect page is often opened in a small popup.
  context = await browser.newContext({ viewport: { width: 420, height: 800 } });
  catalog = await (await fetch(new URL("/_sandbox/catalog", sandbox))).json();
});

after(async () => {
  await browser?.close();
  client?.close();
});

async function api(method, path, body) {
  const response = await fetch(new URL(path, base), {
    method,
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** A connect session for the end user `user-7`, returning to the client's site. */
async function createSession(providers) {
  const created = await api("POST", "/v1/connect-sessions", {
    allowed_providers: providers,
    end_user: { id: "user-7", display_name: "Ada" },
    tags: { plan: "pro" },
    return_url: `${clientOrigin}/connected?from=junction`,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body;
}

function entry(provider) {
  const found = catalog.providers.find((p) => p.provider === provider);
  assert.ok(found, `the sandbox's catalog has ${provider}`);
  return found;
}

async function check(page, name) {
  shot += 1;
  await page.screenshot({ path: join(artifacts, `connect-${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
  const found = problems.splice(0);
  assert.deepEqual(found, [], `problems on ${name}`);
}

async function fill(scope, values) {
  for (const [name, value] of Object.entries(values ?? {})) {
    const field = scope.locator(`#f-${name}`);
    if ((await field.count()) === 0) continue;
    const kind = await field.evaluate((el) => (el.tagName === "SELECT" ? "select" : el.type));
    if (kind === "checkbox") await field.setChecked(Boolean(value));
    else if (kind === "select") await field.selectOption(String(value));
    else await field.fill(typeof value === "string" ? value : JSON.stringify(value));
  }
}

/** The outcome the client's return URL was given. */
function outcomeOf(url) {
  return Object.fromEntries(new URL(url).searchParams);
}

test("a full page: Stripe by key, a wrong key by its field, then back to the return URL", async () => {
  const session = await createSession(["stripe", "google-analytics", "meta-ads"]);
  const page = watch(await context.newPage());
  const response = await page.goto(session.connect_url);
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-security-policy"], new RegExp(`frame-ancestors ${clientOrigin};`));
  assert.deepEqual((await page.locator("#providers h3").allInnerTexts()).sort(), ["Google Analytics 4", "Meta Ads", "Stripe"]);
  await check(page, "providers");

  const stripe = entry("stripe");
  const keyField = Object.keys(stripe.credentials)[0];
  await page.click("button[aria-label='Connect Stripe']");
  await page.locator(`#f-${keyField}`).waitFor();
  await fill(page, stripe.config);
  await fill(page, { ...stripe.credentials, [keyField]: "sk_test_wrong" });
  await page.click("form.stack button[type=submit]");
  await page.locator(`#f-${keyField}-error`).waitFor();
  assert.match(await page.locator(`#f-${keyField}-error`).innerText(), /key rejected/);
  assert.equal(await page.locator(`#f-${keyField}`).getAttribute("aria-invalid"), "true");
  assert.ok(!(await page.content()).includes("sk_test_wrong"), "a secret is never put back in a page");
  await check(page, "stripe-refused");

  await fill(page, stripe.credentials);
  await page.click("form.stack button[type=submit]");
  await page.waitForURL((url) => url.origin === clientOrigin);
  const outcome = outcomeOf(page.url());
  assert.equal(outcome.outcome, "connected");
  assert.equal(outcome.connect_session, session.id);
  assert.equal(outcome.from, "junction", "the return URL's own query is kept");
  const integration = await api("GET", `/v1/integrations/${outcome.integration_id}`);
  assert.equal(integration.body.provider, "stripe");
  assert.equal(integration.body.end_user_id, "user-7");
  await check(page, "stripe-returned");

  // Back on the list, Stripe shows connected.
  await page.goto(session.connect_url);
  assert.match(await page.locator("li", { hasText: "Stripe" }).innerText(), /connected/);
  await check(page, "providers-connected");
  await page.close();
});

test("a popup from the client's page: GA4 through the consent page, the outcome posted to the opener", async () => {
  const session = await createSession(["google-analytics"]);
  const page = watch(await context.newPage());
  await page.goto(`${clientOrigin}/page?connect=${encodeURIComponent(session.connect_url)}`);
  const [popup] = await Promise.all([context.waitForEvent("page"), page.click("#open")]);
  watch(popup);
  await popup.waitForLoadState();
  // The only provider offered: its form straight away.
  await popup.locator("text=Continue to Google Analytics 4").waitFor();
  await fill(popup, entry("google-analytics").config);
  await check(popup, "popup-ga4");
  await popup.click("form.stack button[type=submit]");
  await popup.waitForURL((url) => url.origin === sandboxOrigin);
  await check(popup, "popup-consent");
  const closed = popup.waitForEvent("close");
  await popup.click("button[value=approve]");
  await closed;
  await page.waitForFunction(() => window.messages.length > 0);
  const [message] = await page.evaluate(() => window.messages);
  assert.equal(message.origin, origin, "posted from Junction's origin");
  assert.equal(message.data.type, "junction:connect");
  assert.equal(message.data.outcome, "connected");
  assert.equal(message.data.provider, "google-analytics");
  assert.equal(message.data.connect_session, session.id);
  const integration = await api("GET", `/v1/integrations/${message.data.integration_id}`);
  assert.equal(integration.body.provider, "google-analytics");
  assert.deepEqual(integration.body.tags, { plan: "pro" });
  await check(page, "popup-opener");
  await page.close();
});

test("an iframe on the client's page: Stripe by key, the outcome posted to the parent", async () => {
  const session = await createSession(["stripe"]);
  const page = watch(await context.newPage());
  await page.goto(`${clientOrigin}/page?mode=frame&connect=${encodeURIComponent(session.connect_url)}`);
  const frame = page.frameLocator("#connect");
  const stripe = entry("stripe");
  const keyField = Object.keys(stripe.credentials)[0];
  await frame.locator(`#f-${keyField}`).waitFor();
  await fill(frame, stripe.config);
  await fill(frame, stripe.credentials);
  await check(page, "iframe-stripe");
  await frame.locator("form.stack button[type=submit]").click();
  await page.waitForFunction(() => window.messages.length > 0);
  const [message] = await page.evaluate(() => window.messages);
  assert.equal(message.origin, origin);
  assert.equal(message.data.outcome, "connected");
  assert.equal(message.data.provider, "stripe");
  await frame.locator("#outcome").waitFor();
  assert.match(await frame.locator("h1").innerText(), /Connected/);
  await check(page, "iframe-connected");
  await page.close();
});

test("a site outside the allow-list cannot frame it", async () => {
  const session = await createSession(["stripe"]);
  // Not watched: the browser's refusal is a console error, on purpose.
  const page = await context.newPage();
  const elsewhere = `http://127.0.0.1:${client.address().port}`;
  const refused = page.waitForEvent("console", {
    predicate: (message) => message.text().includes("frame-ancestors"),
    timeout: 15_000,
  });
  await page.goto(`${elsewhere}/page?mode=frame&connect=${encodeURIComponent(session.connect_url)}`);
  await refused;
  assert.equal(await page.frameLocator("#connect").locator("form").count(), 0, "nothing of the Connect page shows");
  shot += 1;
  await page.screenshot({ path: join(artifacts, `connect-${String(shot).padStart(2, "0")}-framing-refused.png`), fullPage: true });
  await page.close();
});

test("a revoked link and an expired one show a readable page", async () => {
  const page = watch(await context.newPage());
  const revoked = await createSession(["stripe"]);
  assert.equal((await api("POST", `/v1/connect-sessions/${revoked.id}/revoke`)).status, 200);
  let response = await page.goto(revoked.connect_url);
  assert.equal(response.status(), 410);
  assert.match(await page.locator("h1").innerText(), /withdrawn/);
  await check(page, "revoked");

  const expired = await createSession(["stripe"]);
  execFileSync("psql", [
    databaseUrl, "-v", "ON_ERROR_STOP=1", "-qc",
    `UPDATE connect_sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = '${expired.id}'`,
  ]);
  response = await page.goto(expired.connect_url);
  assert.equal(response.status(), 410);
  assert.match(await page.locator("h1").innerText(), /expired/);
  await check(page, "expired");

  response = await page.goto(new URL("/connect?session=jcs_not_a_real_token", base).toString());
  assert.equal(response.status(), 404);
  assert.match(await page.locator("h1").innerText(), /not valid/);
  await check(page, "unknown");
  await page.close();
});

test("with JavaScript off, connecting by key still goes back to the return URL", async () => {
  const session = await createSession(["stripe"]);
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const page = watch(await plain.newPage());
  await page.goto(session.connect_url);
  const stripe = entry("stripe");
  await fill(page, stripe.config);
  await fill(page, stripe.credentials);
  await page.click("form.stack button[type=submit]");
  await page.waitForURL((url) => url.origin === clientOrigin);
  assert.equal(outcomeOf(page.url()).outcome, "connected");
  await check(page, "no-javascript-returned");
  await plain.close();
});
