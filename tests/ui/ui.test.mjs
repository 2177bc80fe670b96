// Browser tests of the Firewatch UI: a real server, Debian's Chromium, playwright-core.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { chromium } from "playwright-core";

const BIN = process.env.FIREWATCH_BIN;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TOKEN = "ui-test-webhook-token-0123456789";
const SHOTS = new URL("./screenshots/", import.meta.url).pathname;
const ADMIN_PW = "admin password for ui";
const ONCALL_PW = "oncall password for ui";

let dir, server, base, browser, slack, firstIncident, searchIncident, postmortemPath;
const AXE = readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const slackSeen = [];

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function cli(args, input) {
  const r = spawnSync(BIN, args, { input, env: { ...process.env, FIREWATCH__STORAGE__DATA_DIR: dir }, encoding: "utf8" });
  assert.equal(r.status, 0, `firewatch ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function alert(name, instance, severity, service, summary) {
  return {
    status: "firing",
    labels: { alertname: name, instance, severity, service },
    annotations: { summary, runbook_url: "https://runbooks.example.com/" + name },
    startsAt: new Date(Date.now() - 600000).toISOString(),
    endsAt: "0001-01-01T00:00:00Z",
    generatorURL: "",
    fingerprint: `${name}-${instance}`,
  };
}

async function webhook(groupKey, alerts, groupLabels) {
  const res = await fetch(`${base}/api/v1/alerts/alertmanager`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({
      receiver: "firewatch", status: "firing", alerts, groupLabels, commonLabels: { service: groupLabels.service },
      commonAnnotations: { summary: alerts[0].annotations.summary }, externalURL: "", version: "4", groupKey, truncatedAlerts: 0,
    }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text).incident_id;
}

before(async () => {
  assert.ok(BIN, "FIREWATCH_BIN must point at the firewatch binary");
  dir = mkdtempSync(join(tmpdir(), "firewatch-ui-"));
  mkdirSync(SHOTS, { recursive: true });
  cli(["user", "add", "admin", "--role", "admin", "--password-stdin", "--init"], ADMIN_PW);
  cli(["user", "add", "oncall", "--role", "responder", "--password-stdin"], ONCALL_PW);
  // A stand-in for Slack's incoming webhook.
  slack = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => { slackSeen.push(JSON.parse(body)); res.end("ok"); });
  });
  await new Promise((r) => slack.listen(0, "127.0.0.1", r));
  const config = join(dir, "firewatch.toml");
  // A second receiver nobody listens on: its deliveries fail, so the pages show the
  // failing-deliveries banner (and axe checks it in every mode).
  const dead = await freePort();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // Firewatch's own two SLOs over its /metrics, and two misconfigured ones: a misspelt
  // metric name, and a target nothing listens on.
  const ratio = (errors, total) => `[slo.ratio]\nerrors = '${errors}'\ntotal = '${total}'\n`;
  // A team runbook for the checkout alert, with placeholders filled from the incident.
  const runbooks = join(dir, "runbooks");
  mkdirSync(runbooks);
  writeFileSync(join(runbooks, "high-error-rate.md"), "---\ntitle: Error rate is high\nseverity: P1\nalerts: [HighErrorRate]\nowner: Checkout team\n---\n" +
    "# Error rate is high\n\n## Look at the pods\n\n```sh\nkubectl -n shop logs deploy/{{service}} --since=15m | grep -c ' 5[0-9][0-9] '\ncurl -sS http://{{instance}}/healthz\n```\n");
  writeFileSync(config, `[server]\npublic_ops = true\n[runbooks]\ndir = "${runbooks}"\n` +
    `[[contact]]\nname = "Анна Петрова"\nrole = "SRE"\nphone = "+7 900 000-00-01"\nslack = "@anna"\n` +
    `[[contact]]\nname = "Ben Okafor"\nrole = "SRE"\nphone = "+44 20 7946 0000"\n` +
    `[oncall]\nmembers = ["Анна Петрова", "Ben Okafor"]\nhandover = "monday 10:00"\ntime_zone = "Europe/Moscow"\n` +
    `[[receiver]]\nname = "incidents"\ntype = "slack"\nwebhook_url = "http://127.0.0.1:${slack.address().port}/services/T0/B0/SECRET"\n` +
    `[[receiver]]\nname = "audit-hook"\ntype = "webhook"\nwebhook_url = "http://127.0.0.1:${dead}/hook"\n` +
    `[[scrape]]\njob = "firewatch"\nurl = "${base}/metrics"\n` +
    `[[scrape]]\njob = "payments"\nurl = "http://127.0.0.1:${dead}/metrics"\ntimeout = "500ms"\n` +
    `[[slo]]\nname = "api-availability"\nservice = "firewatch"\nobjective = 99.9\n` +
    ratio('firewatch_http_requests_total{status=~"5.."}', "firewatch_http_requests_total") +
    `[[slo]]\nname = "api-latency"\nservice = "firewatch"\nobjective = 99\n[slo.latency]\nhistogram = "firewatch_http_request_duration_seconds"\nthreshold = 0.256\n` +
    `[[slo]]\nname = "typo"\nservice = "shop"\nobjective = 99.5\n` +
    ratio('firewatch_http_request_totl{status=~"5.."}', "firewatch_http_request_totl") +
    `[[slo]]\nname = "charge"\nservice = "payments"\nobjective = 99.9\n` +
    ratio('payment_total{job="payments",result="error"}', 'payment_total{job="payments"}'));
  server = spawn(BIN, ["serve", "--config", config], {
    env: { ...process.env, FIREWATCH__STORAGE__DATA_DIR: dir, FIREWATCH__SERVER__LISTEN: `127.0.0.1:${port}`,
           FIREWATCH__ALERTMANAGER__WEBHOOK_TOKEN: TOKEN, FIREWATCH__LOG__LEVEL: "warn",
           FIREWATCH__EVALUATION__INTERVAL: "1s" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch { /* not yet */ }
    assert.ok(i < 200, "server did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  firstIncident = await webhook("g-checkout", [alert("HighErrorRate", "api-1", "critical", "checkout", "5xx ratio above 5% for 10m"),
                               alert("HighErrorRate", "api-2", "critical", "checkout", "5xx ratio above 5% for 10m")],
                { alertname: "HighErrorRate", service: "checkout" });
  searchIncident = await webhook("g-search", [alert("LatencyP99High", "search-7", "warning", "search", "p99 above 800ms")],
                { alertname: "LatencyP99High", service: "search" });
  await webhook("g-billing", [alert("QueueBacklogGrowingForAVeryLongTimeAndNobodyIsLooking", "worker-3", "error", "billing", "invoices queue above 10k")],
                { alertname: "QueueBacklogGrowingForAVeryLongTimeAndNobodyIsLooking", service: "billing" });
  await webhook("g-xss", [alert("<script>window.__xss=1</script>", "<img src=x onerror=window.__xss=2>", "info", "auth", "<b>bold?</b>")],
                { alertname: "<script>window.__xss=1</script>", service: "auth" });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  slack?.close();
  server?.kill("SIGTERM");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A page that fails the test on console errors, dialogs or requests leaving the server. */
async function newPage(viewport, extra = {}) {
  const context = await browser.newContext({ viewport, ...extra });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("dialog", (d) => { problems.push(`dialog: ${d.message()}`); d.dismiss(); });
  page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:")) problems.push(`external request: ${r.url()}`); });
  return { page, context, problems };
}

async function login(page, name, password) {
  await page.goto(`${base}/incidents`);
  assert.match(page.url(), /\/login\?next=/);
  await page.fill("input[name=name]", name);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL(`${base}/incidents`), page.click("button[type=submit]")]);
}

async function noHorizontalScroll(page) {
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(scroll <= client + 1, `page scrolls sideways (${scroll} > ${client}) at ${page.url()}`);
}

test("the on-call engineer works an incident from the list to resolution on a laptop", async () => {
  const { page, context, problems } = await newPage({ width: 1280, height: 860 });
  await login(page, "oncall", ONCALL_PW);
  const rows = page.locator("ul.rows li.row");
  assert.equal(await rows.count(), 4);
  assert.equal(await page.locator(".tabs a[aria-current=page] .count").innerText(), "4");
  assert.equal(await page.evaluate(() => window.__xss), undefined, "labels are not executed");
  await page.screenshot({ path: join(SHOTS, "incidents-laptop.png"), fullPage: true });

  // Filter by severity: choosing in the select changes nothing until Filter is pressed.
  await page.selectOption("select[name=severity]", "P0");
  assert.doesNotMatch(page.url(), /severity=/);
  await Promise.all([page.waitForURL(/severity=P0/), page.click("button:has-text('Filter')")]);
  assert.equal(await rows.count(), 1);

  await Promise.all([page.waitForURL(/\/incidents\/\d+$/), page.click("a.row-title")]);
  assert.match(await page.locator("h1").innerText(), /HighErrorRate on checkout/);
  assert.equal(await page.locator(".alertlist li").count(), 2);
  assert.equal(await page.locator("a", { hasText: "Open runbook" }).getAttribute("href"), "https://runbooks.example.com/HighErrorRate");

  await Promise.all([page.waitForLoadState("load"), page.click("button:has-text('Acknowledge')")]);
  assert.equal(await page.locator(".facts .status").textContent(), "acknowledged");
  await page.fill("textarea[name=text]", "Rolling back deploy 2026.11.26-3");
  await Promise.all([page.waitForLoadState("load"), page.click("button:has-text('Add note')")]);
  assert.match(await page.locator(".timeline").innerText(), /Rolling back deploy/);

  await page.click("summary:has-text('Change people')");
  await page.fill("input[name=assignee]", "oncall");
  await page.fill("input[name=commander]", "admin");
  await Promise.all([page.waitForLoadState("load"), page.click("details.assign button[type=submit]")]);
  assert.match(await page.locator(".kv").innerText(), /Commander\s+admin/);

  await Promise.all([page.waitForLoadState("load"), page.click("button:has-text('Resolve')")]);
  assert.equal(await page.locator(".facts .status").textContent(), "resolved");
  const timeline = await page.locator(".timeline").innerText();
  for (const text of ["Acknowledged", "Assigned to oncall", "Resolved", "Incident opened by Alertmanager"]) {
    assert.match(timeline, new RegExp(text));
  }
  await page.screenshot({ path: join(SHOTS, "incident-laptop.png"), fullPage: true });

  await page.goto(`${base}/`);
  assert.match(await page.locator("#delivery-trouble").innerText(), /Notifications are failing\..*audit-hook/s);
  assert.match(await page.locator("section.tiles[aria-label='Open incidents by severity']").innerText(), /P0\s+open\s+0\s+P1/);
  await page.screenshot({ path: join(SHOTS, "dashboard-laptop.png"), fullPage: true });

  // The auto-refresh control pauses and resumes.
  await page.click("[data-refresh-control] button");
  assert.match(await page.locator("[data-refresh-control]").first().innerText(), /paused/);
  await page.click("[data-refresh-control] button");
  assert.match(await page.locator("[data-refresh-control]").first().innerText(), /every 30 s/);
  assert.deepEqual(problems, []);
  await context.close();
});

test("the incident lists its runbook, which opens with the incident's labels filled in and copy buttons", async () => {
  const { page, context, problems } = await newPage({ width: 1280, height: 900 });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await login(page, "oncall", ONCALL_PW);
  await page.goto(`${base}/incidents/${firstIncident}`);
  const link = page.locator("#runbooks a", { hasText: "Error rate is high" });
  await Promise.all([page.waitForURL(new RegExp(`/runbooks/high-error-rate\\?incident=${firstIncident}$`)), link.click()]);
  const code = await page.locator(".runbook pre code").innerText();
  assert.match(code, /deploy\/checkout --since=15m/);
  assert.match(code, /http:\/\/api-\d\/healthz/);
  assert.match(await page.locator(".filled").innerText(), new RegExp(`Opened from #${firstIncident}`));
  await page.locator(".runbook pre .copy").first().click();
  await page.waitForFunction(() => document.querySelector(".runbook pre .copy").textContent === "Copied");
  assert.match(await page.evaluate(() => navigator.clipboard.readText()), /^kubectl -n shop logs deploy\/checkout/);
  await page.screenshot({ path: join(SHOTS, "runbook-from-incident-laptop.png"), fullPage: true });
  // The incident's timeline says who opened it.
  await page.goto(`${base}/incidents/${firstIncident}`);
  assert.match(await page.locator(".timeline").innerText(), /Opened runbook high-error-rate/);
  assert.deepEqual(problems, []);
  await context.close();
});

test("the on-call card prints on one A4 page and its PDF is one page too", async () => {
  const { page, context, problems } = await newPage({ width: 1280, height: 900 });
  await login(page, "oncall", ONCALL_PW);
  await page.goto(`${base}/oncall`);
  const text = await page.locator("main").innerText();
  assert.match(text, /Анна Петрова/);
  assert.match(text, /rollout undo deploy\/\$SVC/);
  await page.screenshot({ path: join(SHOTS, "oncall-card-laptop.png"), fullPage: true });
  await page.emulateMedia({ media: "print" });
  const printed = join(SHOTS, "oncall-print.pdf");
  await page.pdf({ path: printed, format: "A4", printBackground: true });
  const info = spawnSync("pdfinfo", [printed], { encoding: "utf8" });
  assert.equal(info.status, 0, info.stderr);
  assert.match(info.stdout, /Pages:\s+1\n/, `the printed card has more than one page:\n${info.stdout}`);
  // The PDF the server makes.
  const res = await page.request.get(`${base}/oncall/card.pdf`);
  assert.equal(res.status(), 200);
  const served = join(dir, "oncall-card.pdf");
  writeFileSync(served, await res.body());
  assert.match(spawnSync("pdfinfo", [served], { encoding: "utf8" }).stdout, /Pages:\s+1\n/);
  assert.match(spawnSync("pdftotext", [served, "-"], { encoding: "utf8" }).stdout, /Анна Петрова/);
  assert.deepEqual(problems, []);
  await context.close();
});

test("pages are readable on a phone without sideways scrolling", async () => {
  const { page, context, problems } = await newPage({ width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await login(page, "admin", ADMIN_PW);
  await noHorizontalScroll(page);
  await page.screenshot({ path: join(SHOTS, "incidents-phone.png"), fullPage: true });
  await page.click("a.row-title >> nth=0");
  await page.waitForURL(/\/incidents\/\d+$/);
  await noHorizontalScroll(page);
  await page.screenshot({ path: join(SHOTS, "incident-phone.png"), fullPage: true });
  await page.goto(`${base}/`);
  await noHorizontalScroll(page);
  await page.screenshot({ path: join(SHOTS, "dashboard-phone.png"), fullPage: true });
  await page.goto(`${base}/admin`);
  await noHorizontalScroll(page);
  // Every navigation entry can be reached on a phone (the bar scrolls sideways).
  for (const link of await page.locator(".mainnav a").all()) {
    await link.scrollIntoViewIfNeeded();
    const box = await link.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 391, `nav entry out of reach: ${await link.innerText()}`);
  }
  // Printing from dark mode prints dark text on white.
  await page.emulateMedia({ media: "print", colorScheme: "dark" });
  const [bg, fg] = await page.evaluate(() => [getComputedStyle(document.body).backgroundColor,
    getComputedStyle(document.querySelector("h1")).color]);
  assert.equal(bg, "rgb(255, 255, 255)");
  assert.equal(fg, "rgb(17, 24, 39)");
  await page.emulateMedia({ media: "screen", colorScheme: "light" });
  assert.deepEqual(problems, []);
  await context.close();
});

test("an admin creates an API token in the UI and it works against the API", async () => {
  const { page, context, problems } = await newPage({ width: 1280, height: 860 });
  await login(page, "admin", ADMIN_PW);
  await page.goto(`${base}/admin`);
  await page.fill("input[name=name]#t-name", "grafana");
  await page.selectOption("select#t-role", "viewer");
  await Promise.all([page.waitForLoadState("load"), page.click("button:has-text('Create token')")]);
  const token = (await page.locator(".flash-ok code").innerText()).trim();
  assert.match(token, /^fw_[0-9a-f]{64}$/);
  const res = await fetch(`${base}/api/v1/incidents?status=all`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).items.length, 4);
  await page.screenshot({ path: join(SHOTS, "admin-laptop.png"), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test("the integrations page sends a test message and manages silences, on a laptop and a phone", async () => {
  const { page, context, problems } = await newPage({ width: 1280, height: 860 });
  await login(page, "admin", ADMIN_PW);
  await page.goto(`${base}/integrations`);
  const receivers = await page.locator("table").first().innerText();
  assert.match(receivers, /incidents/);
  assert.doesNotMatch(await page.content(), /SECRET/, "the Slack URL is masked");
  const before = slackSeen.length;
  await Promise.all([page.waitForURL(/notice=/), page.click("button:has-text('Send test')")]);
  for (let i = 0; slackSeen.length === before; i++) {
    assert.ok(i < 100, "no test message reached Slack");
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(slackSeen.at(-1).text, /test notification/);
  await page.fill("#s-m", "service=auth");
  await page.fill("#s-c", "identity provider maintenance");
  await Promise.all([page.waitForURL(/notice=Silence/), page.click("button:has-text('Silence')")]);
  assert.match(await page.locator("body").innerText(), /identity provider maintenance/);
  await page.screenshot({ path: join(SHOTS, "integrations-laptop.png"), fullPage: true });
  // The incident the silence covers carries a badge in the list.
  await page.goto(`${base}/incidents`);
  const authRow = page.locator("li.row", { hasText: "on auth" });
  assert.equal(await authRow.locator(".silenced").count(), 1);
  await page.screenshot({ path: join(SHOTS, "incidents-silenced-laptop.png"), fullPage: true });
  await page.goto(`${base}/integrations`);
  await Promise.all([page.waitForURL(/expired/), page.click("button:has-text('Expire')")]);
  assert.match(await page.locator("body").innerText(), /No active silences/);
  assert.deepEqual(problems, []);
  await context.close();

  const phone = await newPage({ width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await login(phone.page, "admin", ADMIN_PW);
  await phone.page.goto(`${base}/integrations`);
  await noHorizontalScroll(phone.page);
  await phone.page.screenshot({ path: join(SHOTS, "integrations-phone.png"), fullPage: true });
  assert.deepEqual(phone.problems, []);
  await phone.context.close();
});

test("the dashboard lists live SLOs and the SLO page draws its charts, on a laptop and a phone", async () => {
  // Firewatch watches its own API out of the box; give it a few evaluations.
  for (let i = 0; i < 60; i++) {
    await fetch(`${base}/healthz`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const { page, context, problems } = await newPage({ width: 1280, height: 900 });
  await login(page, "oncall", ONCALL_PW);
  await page.goto(`${base}/`);
  assert.match(await page.locator(".slotable").innerText(), /api-availability/);
  // Who is on call, with a phone link, right under the page head.
  assert.match(await page.locator("#oncall").innerText(), /On call\s+(Анна Петрова|Ben Okafor)[\s\S]*until [A-Z][a-z]{2} \d+ [A-Z][a-z]{2} 10:00 MSK[\s\S]*secondary/i);
  assert.equal(await page.locator("#oncall a[href^='tel:+']").count(), 2);
  // A receiver nobody listens on: the dashboard says notifications are failing.
  assert.match(await page.locator("#delivery-trouble").innerText(), /Notifications are failing\.[\s\S]*audit-hook/);
  // The table has a 24-hour sparkline per SLO; the panels show one SLO, chosen in the
  // selector: arrow keys move through it without leaving the page (WCAG 3.2.2), Go shows.
  assert.equal(await page.locator(".slotable svg.spark").count(), 4);
  assert.ok((await page.locator(".focus svg.chart").count()) >= 4);
  assert.match(await page.locator(".focus svg.chart").first().getAttribute("aria-label"), /: (latest .+, lowest .+, highest|no data)/);
  const before = page.url();
  await page.focus("#focus-slo");
  await page.keyboard.press("ArrowDown");
  await page.waitForTimeout(300);
  assert.equal(page.url(), before, "the selector navigated on an arrow key");
  await page.selectOption("#focus-slo", "firewatch-api-latency");
  await Promise.all([page.waitForURL(/\?slo=firewatch-api-latency/), page.click(".focusform button")]);
  const panels = await page.locator(".focus").innerText();
  for (const t of ["Latency SLI, last hour", "Error budget left", "Burn rate, 6 hours", "Request rate", "Error rate", "Latency p99"]) {
    assert.match(panels, new RegExp(t));
  }
  assert.match(panels, /p50 [\d.]+ ms · p90 [\d.]+ ms · p99 [\d.]+ m?s/);
  await page.screenshot({ path: join(SHOTS, "dashboard-slo-laptop.png"), fullPage: true });
  await Promise.all([page.waitForURL(/\/slos\//), page.click(".slotable a:has-text('api-availability')")]);
  assert.equal(await page.locator("svg.chart").count(), 4);
  const sloText = await page.locator("body").innerText();
  assert.match(sloText, /Burn rates/);
  // A young SLO says how much data stands behind it and does not judge the period.
  assert.match(sloText, /Measured since \d{4}-\d\d-\d\d \d\d:\d\d UTC \((under 0\.1|[\d.]+) % of the period\)/);
  assert.match(await page.locator("svg.chart").nth(1).getAttribute("aria-label"), /too early to judge the period/);
  // Ticks fall on round values: every y label of the SLI chart ends in a round step.
  const ticks = await page.locator("svg.chart").first().locator("text.tick[text-anchor=end]").allInnerTexts();
  assert.ok(ticks.length >= 3, ticks.join(" "));
  await page.screenshot({ path: join(SHOTS, "slo-laptop.png"), fullPage: true });
  // The range picker: 24 hours by default; 1 hour redraws every range chart.
  assert.equal(await page.locator(".rangepicker [aria-current=true]").innerText(), "24 h");
  await Promise.all([page.waitForURL(/\?range=1h$/), page.click(".rangepicker a:has-text('1 h')")]);
  assert.equal(await page.locator(".rangepicker [aria-current=true]").innerText(), "1 h");
  assert.match(await page.locator("main").innerText(), /SLI, last hour[\s\S]*Requests and errors per second, last hour/);
  assert.match(await page.locator("svg.chart").first().getAttribute("aria-label"), /^SLI over the last hour: latest [\d.]+%/);
  await page.screenshot({ path: join(SHOTS, "slo-range-1h-laptop.png"), fullPage: true });
  // Misconfigured SLOs say why they have no data.
  await page.goto(`${base}/slos/shop-typo`);
  assert.match(await page.locator(".lead").innerText(), /No data: the selector firewatch_http_request_totl matches no series on the scraped targets \(is the metric name or a label misspelt\?\); the target payments .* is down/);
  await page.screenshot({ path: join(SHOTS, "slo-misconfigured-laptop.png"), fullPage: true });
  await page.goto(`${base}/slos/payments-charge`);
  assert.match(await page.locator(".lead").innerText(), /No data: the target payments \(http:\/\/127\.0\.0\.1:\d+\/metrics\) is down: could not connect/);
  await Promise.all([page.waitForURL(`${base}/slos`), page.click(".crumbs a:has-text('SLOs')")]);
  assert.equal(await page.locator(".slotable tbody tr").count(), 4);
  assert.match(await page.locator(".slotable").innerText(), /typo[\s\S]*no data/);
  await page.screenshot({ path: join(SHOTS, "slos-laptop.png"), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();

  const phone = await newPage({ width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await login(phone.page, "oncall", ONCALL_PW);
  await phone.page.goto(`${base}/?slo=firewatch-api-latency`);
  await noHorizontalScroll(phone.page);
  await phone.page.screenshot({ path: join(SHOTS, "dashboard-slo-phone.png"), fullPage: true });
  await phone.page.goto(`${base}/slos/firewatch-api-availability`);
  await noHorizontalScroll(phone.page);
  await phone.page.screenshot({ path: join(SHOTS, "slo-phone.png"), fullPage: true });
  // Every range is one tap away on a phone.
  const last = phone.page.locator(".rangepicker a").last();
  await last.scrollIntoViewIfNeeded();
  await Promise.all([phone.page.waitForURL(/\?range=period$/), last.tap()]);
  assert.match(await phone.page.locator("main").innerText(), /SLI, this period/);
  await noHorizontalScroll(phone.page);
  await phone.page.screenshot({ path: join(SHOTS, "slo-range-period-phone.png"), fullPage: true });
  await phone.page.goto(`${base}/slos/shop-typo`);
  await noHorizontalScroll(phone.page);
  await phone.page.screenshot({ path: join(SHOTS, "slo-misconfigured-phone.png"), fullPage: true });
  assert.deepEqual(phone.problems, []);
  await phone.context.close();
});

test("the keyboard skips to the content, acknowledges and resolves; auto-refresh keeps focus and place", async () => {
  const { page, context, problems } = await newPage({ width: 1280, height: 700 });
  await page.clock.install();
  await login(page, "oncall", ONCALL_PW);
  await page.goto(`${base}/incidents/${searchIncident}`);
  // The first Tab reaches the skip link, which is shown and moves focus to the content.
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), "Skip to content");
  assert.ok((await page.locator("a.skip").boundingBox()).y >= 0, "the skip link is visible when focused");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "main");

  async function tabTo(text) {
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press("Tab");
      if ((await page.evaluate(() => document.activeElement.textContent.trim())) === text) return;
    }
    assert.fail(`Tab never reached "${text}"`);
  }
  async function announced(text) {
    await page.waitForFunction((t) => document.getElementById("announce").textContent === t, text, { timeout: 5000 });
  }
  await tabTo("Acknowledge");
  const ring = await page.evaluate(() => {
    const s = getComputedStyle(document.activeElement);
    return [s.outlineStyle, parseFloat(s.outlineWidth)];
  });
  assert.notEqual(ring[0], "none", "the focused button shows a focus ring");
  assert.ok(ring[1] >= 2, `focus ring ${ring[1]}px`);
  await Promise.all([page.waitForURL(/\/incidents\/\d+/), page.keyboard.press("Enter")]);
  await announced("Acknowledged.");
  assert.equal(await page.locator(".facts .status").textContent(), "acknowledged");
  assert.doesNotMatch(page.url(), /done=/, "the confirmation is not repeated on reload");

  // A new alert joins the incident; the next auto-refresh brings it in while focus stays
  // on Resolve and the page does not move.
  await tabTo("Resolve");
  await page.evaluate(() => window.scrollTo(0, 120));
  const y = await page.evaluate(() => window.scrollY);
  await webhook("g-search", [alert("LatencyP99High", "search-7", "warning", "search", "p99 above 800ms"),
                             alert("LatencyP99High", "search-8", "warning", "search", "p99 above 800ms")],
                { alertname: "LatencyP99High", service: "search" });
  await page.clock.fastForward(31000);
  await announced("Page updated");
  assert.equal(await page.locator(".alertlist li").count(), 2);
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), "Resolve");
  assert.equal(await page.evaluate(() => window.scrollY), y);
  await Promise.all([page.waitForURL(/\/incidents\/\d+/), page.keyboard.press("Enter")]);
  await announced("Resolved.");
  assert.equal(await page.locator(".facts .status").textContent(), "resolved");
  assert.deepEqual(problems, []);
  await context.close();
});

/**
 * Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the page. The script is served from the
 * page's own origin through a routed URL, so the strict Content-Security-Policy stays on.
 * Returns the serious and critical violations, one line each.
 */
async function axeViolations(page) {
  await page.route(`${base}/__axe.js`, (route) =>
    route.fulfill({ status: 200, contentType: "application/javascript", body: AXE }));
  await page.addScriptTag({ url: `${base}/__axe.js` });
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    resultTypes: ["violations"],
  }));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}) ${n.target.join(" ")}: ${
      n.failureSummary.replace(/Fix (any|all) of the following:/g, "").replace(/\s+/g, " ").trim().slice(0, 240)}`));
}

test("a post-mortem is started from the incident, drafts itself and goes to review, on a laptop and a phone", async () => {
  const { page, context, problems } = await newPage({ width: 1280, height: 900 });
  await login(page, "oncall", ONCALL_PW);
  await page.goto(`${base}/incidents/${searchIncident}`);
  await Promise.all([page.waitForURL(/\/postmortems\/\d+$/), page.click("button:has-text('Start post-mortem')")]);
  postmortemPath = new URL(page.url()).pathname;
  assert.match(await page.locator(".pmstatus").first().innerText(), /draft/i);
  // The draft names the alert and the durations.
  assert.match(await page.locator("#s-timeline").inputValue(), /alert LatencyP99High on search-7 started firing/);
  assert.match(await page.locator(".tiles").innerText(), /Time to detect/);
  await page.fill("#s-root_causes", "A slow index rebuild held a lock on the search table.");
  // Saving posts the form and lands on the same page again (after the redirect).
  await Promise.all([
    page.waitForResponse((r) => r.url() === `${base}${postmortemPath}` && r.request().method() === "GET"),
    page.click("button:has-text('Save and ask for review')"),
  ]);
  await page.waitForLoadState();
  assert.match(await page.locator(".pmstatus").first().innerText(), /in review/i);
  assert.equal(await page.locator("#s-root_causes").inputValue(), "A slow index rebuild held a lock on the search table.");
  // An action item, due yesterday: overdue on the tracker.
  const yesterday = new Date(Date.now() - 86400000).toISOString().slice(0, 10);
  await page.fill(".itemform input[name=title]", "Alert on index rebuilds longer than 5 minutes");
  await page.fill(".itemform input[name=owner]", "oncall");
  await page.fill(".itemform input[name=due]", yesterday);
  await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(`${base}${postmortemPath}`) && r.request().method() === "GET"),
    page.click(".itemform button[type=submit]"),
  ]);
  await page.waitForLoadState();
  assert.match(await page.locator("#action-items").innerText(), /Alert on index rebuilds longer than 5 minutes/);
  await page.screenshot({ path: join(SHOTS, "postmortem-laptop.png"), fullPage: true });
  // On paper: the written text, not the editor.
  await page.emulateMedia({ media: "print" });
  assert.equal(await page.locator(".pmform").isVisible(), false);
  assert.match(await page.locator("article.printonly").innerText(), /A slow index rebuild held a lock on the search table/);
  await page.pdf({ path: join(SHOTS, "postmortem-print.pdf"), format: "A4" });
  await page.emulateMedia({ media: "screen" });
  // The incident links it, and its timeline says what happened.
  await page.goto(`${base}/incidents/${searchIncident}`);
  assert.equal(await page.locator(`a[href='${postmortemPath}']`).count(), 1);
  assert.match(await page.locator(".timeline").innerText(), /Moved the post-mortem to in review/);
  await page.goto(`${base}/postmortems`);
  assert.match(await page.locator(".rows").innerText(), /in review/i);
  await page.goto(`${base}/action-items?overdue=true`);
  assert.match(await page.locator("tr.overdue").first().innerText(), /Alert on index rebuilds[\s\S]*overdue/);
  await page.screenshot({ path: join(SHOTS, "action-items-laptop.png"), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();

  const phone = await newPage({ width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await login(phone.page, "oncall", ONCALL_PW);
  await phone.page.goto(`${base}${postmortemPath}`);
  await noHorizontalScroll(phone.page);
  await phone.page.screenshot({ path: join(SHOTS, "postmortem-phone.png"), fullPage: true });
  assert.deepEqual(phone.problems, []);
  await phone.context.close();
});

let reportPath;
test("an admin generates the month-to-date SLO report; it reads on a laptop and a phone and prints on A4", async () => {
  const { page, context, problems } = await newPage({ width: 1280, height: 900 });
  await login(page, "admin", ADMIN_PW);
  await page.goto(`${base}/reports`);
  assert.match(await page.locator("main").innerText(), /No reports yet/);
  const month = await page.locator("#r-month").getAttribute("max");
  await page.fill("#r-month", month);
  await Promise.all([page.waitForURL(new RegExp(`/reports/${month}$`)), page.click("button:has-text('Generate report')")]);
  reportPath = `/reports/${month}`;
  const text = await page.locator("main").innerText();
  for (const h of ["1. Executive summary", "2. SLO compliance", "3. Error budget consumption", "4. Incidents",
    "5. Trends", "6. Top incidents and contributing causes", "7. Action items", "8. Appendix"]) {
    assert.ok(text.includes(h), `${h} missing`);
  }
  assert.match(text, /month to date/);
  assert.ok(await page.locator("#budget svg").count() >= 1, "no budget chart");
  await page.screenshot({ path: join(SHOTS, "report-laptop.png"), fullPage: true });
  // Printing hides the controls and opens the daily tables; the server's PDF reads back.
  await page.evaluate(() => window.dispatchEvent(new Event("beforeprint")));
  await page.emulateMedia({ media: "print" });
  assert.equal(await page.locator(".report-actions").isVisible(), false);
  const printed = join(SHOTS, "report-print.pdf");
  await page.pdf({ path: printed, format: "A4" });
  assert.match(spawnSync("pdfinfo", [printed], { encoding: "utf8" }).stdout, /Page size:.*\(A4\)/);
  await page.emulateMedia({ media: "screen" });
  const res = await page.request.get(`${base}/reports/${month}.pdf`);
  assert.equal(res.status(), 200);
  const served = join(dir, "report.pdf");
  writeFileSync(served, await res.body());
  assert.match(spawnSync("pdftotext", [served, "-"], { encoding: "utf8" }).stdout, /8\. Appendix/);
  // The list shows it; the jobs page runs the monthly job by hand.
  await page.goto(`${base}/reports`);
  assert.match(await page.locator("main").innerText(), new RegExp(month));
  await page.goto(`${base}/admin/jobs`);
  assert.equal(await page.locator("button:has-text('Run now')").count(), 5);
  await Promise.all([page.waitForURL(/notice=/), page.click("tr:has-text('retention') button:has-text('Run now')")]);
  assert.match(await page.locator(".flash").innerText(), /retention ran: deleted \d+ resolved incidents/);
  await page.screenshot({ path: join(SHOTS, "jobs-laptop.png"), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
  const phone = await newPage({ width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await login(phone.page, "admin", ADMIN_PW);
  await phone.page.goto(`${base}${reportPath}`);
  await noHorizontalScroll(phone.page);
  await phone.page.screenshot({ path: join(SHOTS, "report-phone.png"), fullPage: true });
  assert.deepEqual(phone.problems, []);
  await phone.context.close();
});

let drillIncident;
test("a drill is marked as one in the list and on its page, on a laptop and a phone", async () => {
  const a = alert("FirewatchDrill", "drill-1", "info", "drills", "A drill: nothing is broken");
  a.labels.firewatch_drill = "true";
  drillIncident = await webhook("g-drill", [a], { alertname: "FirewatchDrill", service: "drills" });
  for (const [name, viewport, extra] of [["laptop", { width: 1280, height: 860 }, {}],
    ["phone", { width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 }]]) {
    const { page, context, problems } = await newPage(viewport, extra);
    await login(page, "admin", ADMIN_PW);
    await page.goto(`${base}/incidents`);
    const row = page.locator("li.row", { hasText: "on drills" });
    assert.equal(await row.locator(".drill").innerText(), "DRILL");
    await page.goto(`${base}/incidents/${drillIncident}`);
    assert.ok(await page.locator(".facts .drill").isVisible());
    assert.match(await page.locator(".sev-lg").innerText(), /P0/);
    if (name === "phone") await noHorizontalScroll(page);
    await page.screenshot({ path: join(SHOTS, `incident-drill-${name}.png`) });
    assert.deepEqual(problems, []);
    await context.close();
  }
});

test("every page passes axe-core's WCAG 2.1 A/AA rules in light and dark mode and on a phone", async () => {
  const pages = ["/", "/?slo=firewatch-api-latency", "/incidents", "/incidents?status=all", "/incidents/new",
    `/incidents/${firstIncident}`, `/incidents/${firstIncident}/alerts`, `/incidents/${firstIncident}/timeline`,
    "/slos", "/slos/firewatch-api-availability", "/slos/firewatch-api-latency", "/slos/firewatch-api-latency?range=7d",
    "/slos/shop-typo", "/slos/payments-charge", "/integrations", "/integrations/prometheus",
    "/runbooks", "/runbooks/firewatch-down", `/runbooks/high-error-rate?incident=${firstIncident}`, "/runbooks/p0-incident", "/oncall", "/postmortems", "/action-items", "/healing", "/admin", "/no-such-page"];
  if (postmortemPath) pages.push(postmortemPath);
  if (drillIncident) pages.push(`/incidents/${drillIncident}`);
  if (reportPath) pages.push("/reports", reportPath, "/admin/jobs");
  const modes = [
    ["light", { width: 1280, height: 860 }, {}],
    ["dark", { width: 1280, height: 860 }, { colorScheme: "dark" }],
    ["phone", { width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 }],
  ];
  const found = [];
  for (const [mode, viewport, extra] of modes) {
    const { page, context, problems } = await newPage(viewport, extra);
    await page.goto(`${base}/login`);
    for (const v of await axeViolations(page)) found.push(`${mode} /login: ${v}`);
    await login(page, "admin", ADMIN_PW);
    for (const path of pages) {
      await page.goto(`${base}${path}`);
      for (const v of await axeViolations(page)) found.push(`${mode} ${path}: ${v}`);
      if (mode === "phone") await noHorizontalScroll(page);
      if (mode === "dark" && path === "/slos/firewatch-api-latency?range=7d") {
        await page.screenshot({ path: join(SHOTS, "slo-latency-dark-laptop.png"), fullPage: true });
      }
    }
    // The unknown page answers 404 on purpose.
    assert.deepEqual(problems.filter((p) => !p.includes("status of 404")), []);
    await context.close();
  }
  assert.deepEqual(found, [], `axe violations:\n${found.join("\n")}`);
});
