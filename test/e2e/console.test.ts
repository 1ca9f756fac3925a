import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { createClient } from "@connectrpc/connect";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConsole } from "../../console/build.ts";
import { ApiKeyService } from "../../src/gen/hookline/v1/api_key_pb.ts";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { json, transport } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually, webhookId, type Receiver } from "../helpers/receiver.ts";

// The web console at /console: its assets over HTTP, then a person's session in a real
// headless Chromium signed in with a tenant API key.

const ROOT = new URL("../../", import.meta.url).pathname;
const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOTS = join(ROOT, ".tmp");
const { server, api, receiver } = useHookline();

// The tests read what `npm run build:console` makes from the sources as they are now.
beforeAll(() => buildConsole(), 60_000);

describe("console assets", () => {
  it("serves index.html at /console with a strict CSP and no caching, hashed assets as immutable, gzip when asked", async () => {
    for (const path of ["/console", "/console/"]) {
      const res = await fetch(server.baseUrl + path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      const html = await res.text();
      // Every asset comes from hookline itself, and no script is inline.
      expect(html).not.toMatch(/https?:\/\//);
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    }
    const html = await (await fetch(`${server.baseUrl}/console`)).text();
    const script = /src="(\/console\/assets\/main-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    const styles = /href="(\/console\/assets\/styles-[A-Z0-9]+\.css)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(styles).toBeDefined();

    const js = await fetch(server.baseUrl + script!, { headers: { "accept-encoding": "identity" } });
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const plain = Buffer.from(await js.arrayBuffer());
    expect(plain.toString("utf8").includes("hookline.apiKey"), "the bundle holds the console's code").toBe(true);

    // fetch() would inflate gzip itself: read the raw bytes through node:http-level headers.
    const zipped = await rawGet(server.baseUrl + script!, { "accept-encoding": "gzip" });
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.body.length).toBeLessThan(plain.length / 2);
    expect(gunzipSync(zipped.body).equals(plain)).toBe(true);

    const css = await fetch(server.baseUrl + styles!);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    const etag = css.headers.get("etag")!;
    expect((await fetch(server.baseUrl + styles!, { headers: { "if-none-match": etag } })).status).toBe(304);

    const missing = await fetch(`${server.baseUrl}/console/assets/main-NOPE.js`);
    expect(missing.status).toBe(404);
    expect((await fetch(`${server.baseUrl}/console`, { method: "POST" })).status).toBe(405);
    // Paths outside /console still reach the API's fallback.
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
  });
});

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === "true") {
  // In CI the browser test must run: a missing chromium fails the suite instead of skipping.
  describe("console in a browser", () => {
    it("needs Debian's chromium package", () => {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)`);
    });
  });
}

describe.skipIf(!haveChromium)("console in a browser", () => {
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), "hookline-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1280, height: 860 },
      colorScheme: "light",
    });
    page = context.pages()[0] ?? (await context.newPage());
    // A CSP violation or a script error shows up here; the test fails on any.
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(e.message));
    // The page may talk only to hookline itself.
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.origin === server.baseUrl) return route.continue();
      problems.push(`request outside hookline: ${url.href}`);
      return route.abort();
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("a tenant key sees its own endpoint with health, a dead delivery's attempts, retries it, tails live changes, sends a test event, replays in bulk, and sees nothing of another tenant", async () => {
    // What an operator set up beforehand: two tenants; a key for the first one only.
    let receiverUp = false;
    const rx = await receiver(() => (receiverUp ? { status: 200, body: "thanks" } : { status: 500, body: "receiver is down" }));
    const otherRx = await receiver();
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "Acme");
    const other = await tenantWithEndpoint(otherRx, "Globex");
    const keys = createClient(ApiKeyService, transport(server.baseUrl, "grpc"));
    const { key: tenantKey } = await keys.createApiKey({ tenantId, name: "console e2e" });

    // A delivery that died at once (one attempt allowed), and one of the other tenant.
    const deadEventId = await publish(tenantId, "invoice.paid", { invoice: 1 });
    const dead = await eventually(async () => {
      const { deliveries } = await api.deliveries.listDeliveries({ eventId: deadEventId });
      return deliveries.find((d) => d.status === DeliveryStatus.DEAD);
    }, 20_000, "the first delivery to be DEAD");
    await publish(other.tenantId, "secret.globex", { globex: true });
    const otherDelivery = await eventually(async () => (await api.deliveries.listDeliveries({ tenantId: other.tenantId })).deliveries[0], 20_000, "Globex's delivery");

    // Sign in with the tenant key.
    await page.goto(`${server.baseUrl}/console`);
    await page.getByLabel("API key").fill(tenantKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("[data-scope=tenant]", { hasText: "Acme" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("hookline.apiKey"))).toBe(tenantKey);
    expect(await page.evaluate(() => localStorage.getItem("hookline.apiKey"))).toBeNull();

    // Endpoints: its own one, with health from GetEndpointStats; not Globex's.
    const row = page.locator("tbody tr", { hasText: rx.url });
    await row.waitFor();
    expect(await page.locator("tbody tr").count()).toBe(1);
    expect(await row.locator("td").allInnerTexts()).toEqual(expect.arrayContaining(["enabled", "0%", "0", "closed"]));
    await screenshot(page, "console-endpoints-light.png");

    // Tenants: a tenant key cannot create tenants, and the console does not offer it.
    await page.keyboard.press("g");
    await page.keyboard.press("t");
    await page.getByRole("heading", { name: "Tenants" }).waitFor();
    await page.locator("tbody tr", { hasText: "Acme" }).waitFor();
    expect(await page.getByText("New tenant").count()).toBe(0);
    expect(await page.locator("tbody tr", { hasText: "Globex" }).count()).toBe(0);

    // Deliveries filtered to DEAD; open the dead one with the keyboard and read its attempt.
    await page.goto(`${server.baseUrl}/console#/deliveries?status=dead`);
    await page.locator("tbody tr", { hasText: dead.id }).waitFor();
    await page.keyboard.press("/");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("name"))).toBe("endpoint");
    await page.keyboard.press("Escape");
    await page.keyboard.press("j");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: `Delivery ${dead.id}` }).waitFor();
    const attempts = page.getByRole("table", { name: "Attempts" });
    await attempts.locator("tbody tr", { hasText: "500" }).waitFor();
    expect(await attempts.innerText()).toContain("receiver is down");
    // The request headers it sent, unfolded: as sent, but the custom header's value masked.
    await attempts.locator("details.headers summary").first().click();
    const sent = await attempts.locator("details.headers pre").first().innerText();
    expect(sent).toContain(`webhook-id: ${dead.id}`);
    expect(sent).toContain(`webhook-signature: ${String(rx.requests.find((r) => webhookId(r) === dead.id)!.headers["webhook-signature"])}`);
    expect(sent).toContain("x-api-key: <redacted>");
    expect(await page.content()).not.toContain("Acme-credential");

    // Retry it: the receiver answers now, and the console shows the success.
    receiverUp = true;
    await page.getByRole("button", { name: "Retry now" }).click();
    await attempts.locator("tbody tr", { hasText: "thanks" }).waitFor({ timeout: 30_000 });
    await page.locator(".facts .badge", { hasText: "succeeded" }).waitFor({ timeout: 30_000 });
    expect(rx.requests.filter((r) => webhookId(r) === dead.id)).toHaveLength(2);
    await screenshot(page, "console-delivery-light.png");

    // Live tail: registered first, then a new event's delivery shows up; Globex's never does.
    await page.keyboard.press("g");
    await page.keyboard.press("l");
    await page.locator("[data-tail-state=live]").waitFor();
    await publish(other.tenantId, "secret.globex", { globex: 2 });
    const liveEventId = await publish(tenantId, "order.created", { order: 7 });
    const liveDelivery = await eventually(async () => (await api.deliveries.listDeliveries({ eventId: liveEventId })).deliveries[0], 20_000, "the live delivery");
    await page.locator("tbody tr", { hasText: liveDelivery.id }).filter({ hasText: "succeeded" }).waitFor({ timeout: 30_000 });
    expect(await page.locator("main").innerText()).not.toContain(other.endpointId);

    // The endpoint: disable and enable it, rotate its secret, send a test event.
    await page.goto(`${server.baseUrl}/console#/endpoints/${endpointId}`);
    await page.getByRole("heading", { name: rx.url }).waitFor();
    await page.getByLabel("Reason for disabling").fill("maintenance window");
    await page.getByRole("button", { name: "Disable" }).click();
    await page.locator(".page-head", { hasText: "maintenance window" }).waitFor();
    expect((await api.endpoints.getEndpoint({ id: endpointId })).endpoint?.disabled).toBe(true);
    await page.getByRole("button", { name: "Enable" }).click();
    await page.locator(".page-head .badge", { hasText: "enabled" }).waitFor();

    await page.getByRole("button", { name: "Rotate secret" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Rotate" }).click();
    const secret = await page.locator("[data-secret]").innerText();
    expect(secret).toMatch(/^whsec_/);
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();

    const before = rx.requests.length;
    await page.getByRole("button", { name: "Send test event" }).click();
    const testResult = page.locator(".test-result");
    await testResult.locator(".badge", { hasText: "succeeded" }).waitFor({ timeout: 30_000 });
    expect(await testResult.getByRole("table", { name: "Attempts" }).locator("tbody tr").innerText()).toContain("200");
    await rx.waitFor((reqs) => reqs.length > before);
    expect(JSON.parse(rx.requests.at(-1)!.body.toString()).test).toBe(true);
    await screenshot(page, "console-endpoint-light.png");

    // Bulk replay of the endpoint's succeeded deliveries (the retried one, the live one, the test event).
    const sentBefore = rx.requests.length;
    const replay = page.getByRole("form", { name: "Replay deliveries" });
    await replay.getByLabel("dead").uncheck();
    await replay.getByLabel("succeeded").check();
    await replay.getByRole("button", { name: "Replay" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Replay" }).click();
    await page.locator(".notice", { hasText: "3 deliveries scheduled again" }).waitFor();
    await rx.waitFor((reqs) => reqs.length >= sentBefore + 3);

    // Another tenant's things are not visible, even by id.
    await page.goto(`${server.baseUrl}/console#/deliveries/${otherDelivery.id}`);
    await page.getByText(`Delivery ${otherDelivery.id} cannot be shown.`).waitFor();
    await page.locator(".notice", { hasText: "does not exist" }).first().waitFor();
    await page.goto(`${server.baseUrl}/console#/deliveries`);
    await page.locator("tbody tr", { hasText: dead.id }).waitFor();
    const shown = await page.locator("main tbody").innerText();
    expect(shown).not.toContain(other.endpointId);
    expect(shown).not.toContain("secret.globex");

    // Dark theme with the t shortcut.
    await page.keyboard.press("t");
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
    await screenshot(page, "console-deliveries-dark.png");
    await page.keyboard.press("t");

    // Refused calls (the scope check's PERMISSION_DENIED, NOT_FOUND for Globex's ids) log as 403/404; nothing else went wrong.
    expect(problems.filter((p) => !/status of 40[34]/.test(p))).toEqual([]);
  }, 180_000);

  it("an unknown key is refused at sign-in; an admin key creates a tenant and a tenant key, which then signs in", async () => {
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(`${server.baseUrl}/console`);
    await page.getByLabel("API key").fill("hk_not_a_real_key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "not accepted" }).waitFor();

    // With no choice made, the theme follows the system's.
    await page.emulateMedia({ colorScheme: "dark" });
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgb(15, 18, 22)");
    await screenshot(page, "console-signin-dark.png");
    await page.emulateMedia({ colorScheme: "light" });
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgb(246, 247, 249)");

    await page.getByLabel("API key").fill((await import("../helpers/auth.ts")).TEST_ADMIN_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("[data-scope=admin]").waitFor();
    await page.goto(`${server.baseUrl}/console#/tenants`);
    await page.getByText("New tenant").click();
    await page.getByLabel("Name").fill("Initech");
    await page.getByRole("button", { name: "Create tenant" }).click();
    const initech = page.locator("tbody tr", { hasText: "Initech" });
    await initech.waitFor();
    expect((await api.tenants.listTenants({ pageSize: 1000 })).tenants.some((t) => t.name === "Initech")).toBe(true);

    // A key for the new tenant, shown once.
    await initech.getByRole("button", { name: "New API key" }).click();
    const key = await page.getByRole("dialog").locator("[data-secret]").innerText();
    expect(key).toMatch(/^hk_/);
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(`${server.baseUrl}/console`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("[data-scope=tenant]", { hasText: "Initech" }).waitFor();

    // Signing out forgets the key.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("hookline.apiKey"))).toBeNull();
  }, 120_000);

  it("a tenant key sees its event-type catalog (not another tenant's) and picks an endpoint filter from it", async () => {
    const problemsBefore = problems.length;
    const rx = await receiver();
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "Umbrella");
    const other = await api.tenants.createTenant({ name: "Cyberdyne" });
    const schema = JSON.stringify({ type: "object", required: ["amount"] });
    await api.eventTypes.createEventType({ eventType: { name: "invoice.settled", description: "Paid in full", schema } });
    await api.eventTypes.createEventType({ eventType: { tenantId, name: "umbrella.recalled", description: "A product was recalled" } });
    await api.eventTypes.createEventType({ eventType: { tenantId: other.tenant!.id, name: "cyberdyne.secret" } });
    const keys = createClient(ApiKeyService, transport(server.baseUrl, "grpc"));
    const { key } = await keys.createApiKey({ tenantId, name: "console catalog" });

    await page.evaluate(() => sessionStorage.clear());
    await page.goto(`${server.baseUrl}/console`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("[data-scope=tenant]", { hasText: "Umbrella" }).waitFor();
    await page.keyboard.press("g");
    await page.keyboard.press("c");
    await page.getByRole("heading", { name: "Event types" }).waitFor();
    const catalog = page.getByRole("table", { name: "Event types" });
    const shared = catalog.locator("tbody tr", { hasText: "invoice.settled" });
    await shared.waitFor();
    expect(await shared.locator("td").allInnerTexts()).toEqual(expect.arrayContaining(["instance-wide", "Paid in full", "yes", "live"]));
    expect(await catalog.locator("tbody tr", { hasText: "umbrella.recalled" }).locator("td").allInnerTexts()).toEqual(expect.arrayContaining([tenantId, "no"]));
    expect(await catalog.innerText()).not.toContain("cyberdyne.secret");
    // Instance-wide types are not the tenant's to archive.
    expect(await shared.getByRole("button").count()).toBe(0);
    await screenshot(page, "console-event-types-light.png");

    // The endpoint's event-type filter offers the catalog's names.
    await page.goto(`${server.baseUrl}/console#/endpoints/${endpointId}`);
    const picker = page.getByLabel("Add an event type from the catalog");
    await picker.locator("option", { hasText: "umbrella.recalled" }).waitFor({ state: "attached" });
    expect(await picker.locator("option", { hasText: "cyberdyne.secret" }).count()).toBe(0);
    await picker.selectOption("umbrella.recalled");
    await picker.selectOption("invoice.settled");
    await screenshot(page, "console-endpoint-filter-light.png");
    await page.getByRole("form", { name: "Endpoint settings" }).getByRole("button", { name: "Save" }).click();
    await page.locator(".notice", { hasText: "Endpoint saved" }).waitFor();
    expect((await api.endpoints.getEndpoint({ id: endpointId })).endpoint?.eventTypes).toEqual(["umbrella.recalled", "invoice.settled"]);
    expect(problems.slice(problemsBefore).filter((p) => !/status of 40[34]/.test(p))).toEqual([]);
  }, 120_000);

  async function tenantWithEndpoint(rx: Receiver, name: string): Promise<{ tenantId: string; endpointId: string }> {
    const { tenant } = await api.tenants.createTenant({ name });
    const { endpoint } = await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: rx.url, description: `${name} billing`, retryPolicy: { maxAttempts: 1 }, headers: { "x-api-key": `${name}-credential` } });
    return { tenantId: tenant!.id, endpointId: endpoint!.id };
  }
});

async function publish(tenantId: string, type: string, payload: unknown): Promise<string> {
  const { results } = await api.events.publish({ events: [{ tenantId, type, payload: json(payload) }] });
  return results[0]!.eventId;
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });
}

/** A GET whose body is returned as sent (fetch would decompress it). */
async function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const http = await import("node:http");
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on("error", reject);
  });
}
