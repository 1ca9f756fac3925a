import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMMANDS, main } from "../../src/cli/main.ts";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually } from "../helpers/receiver.ts";
import { runCli } from "../helpers/server.ts";

const { server, api, receiver, tenantWithEndpoint } = useHookline();
const env = () => ({ HOOKLINE_SERVER: server.baseUrl, HOOKLINE_API_KEY: TEST_ADMIN_KEY });
const scratch = mkdtempSync(join(tmpdir(), "hookline-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function inPairs<T, R>(items: T[], run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += 2) results.push(...(await Promise.all(items.slice(i, i + 2).map(run))));
  return results;
}

describe("hookline CLI", () => {
  it("prints help for every command, with its flags and defaults", async () => {
    // In-process for each command (one process start each would dominate the suite), and
    // once through the real binary below.
    const names = ["serve", ...COMMANDS.map((c) => c.name)];
    const write = process.stdout.write;
    let captured = "";
    process.stdout.write = ((chunk: string | Uint8Array) => ((captured += chunk.toString()), true)) as typeof process.stdout.write;
    const helps = new Map<string, string>();
    try {
      for (const name of names) {
        captured = "";
        await main([...name.split(" "), "--help"]);
        helps.set(name, captured);
      }
    } finally {
      process.stdout.write = write;
    }
    for (const [name, help] of helps) {
      expect(help, name).toContain(`usage: hookline ${name}`);
      expect(help, name).toMatch(/-h, --help/);
    }
    expect(helps.get("serve")).toMatch(/--admin-key/);
    expect(helps.get("deliveries list")).toContain("(default 50)");

    const viaBinary = await runCli(["deliveries", "-h"]);
    expect(viaBinary.code, viaBinary.stderr).toBe(0);
    expect(viaBinary.stdout).toContain("usage: hookline deliveries list");
    const top = await runCli(["help"]);
    for (const c of COMMANDS) expect(top.stdout).toContain(c.name);
  });

  it("refuses unknown commands and flags with a did-you-mean, and bad values naming the flag", async () => {
    // Independent processes: two at a time, one per core.
    const [typo, limit, since, status, command, missing, extra] = await inPairs(
      [
        ["deliveries", "--endpint", "ep_x"],
        ["deliveries", "--limit", "abc"],
        ["replay", "--endpoint", "ep_x", "--since", "yesterday"],
        ["deliveries", "--status", "lost"],
        ["endpoint", "list"],
        ["attempts"],
        ["tenants", "get", "a", "b"],
      ],
      (args) => runCli(args, env()),
    );
    expect(typo!.code).toBe(2);
    expect(typo!.stderr).toMatch(/unknown flag --endpint; did you mean --endpoint\?/);
    expect(limit!.code).toBe(2);
    expect(limit!.stderr).toMatch(/--limit must be a whole number/);
    expect(since!.code).toBe(2);
    expect(since!.stderr).toMatch(/--since must be a duration/);
    expect(status!.stderr).toMatch(/--status: unknown status "lost"/);
    expect(command!.code).toBe(2);
    expect(command!.stderr).toMatch(/did you mean "endpoints list"\?/);
    expect(missing!.code).toBe(2);
    expect(missing!.stderr).toMatch(/DELIVERY_ID is required/);
    expect(extra!.stderr).toMatch(/unexpected argument "b"/);
  });

  it("publishes plain JSON from --data, --file and stdin, and refuses a payload that is not JSON", async () => {
    const rx = await receiver();
    const { tenantId } = await tenantWithEndpoint(rx, "cli publish");
    const fromData = await runCli(["publish", "--tenant", tenantId, "--type", "cli.data", "--data", '{"from":"data"}'], env());
    expect(fromData.code, fromData.stderr).toBe(0);
    expect(fromData.stdout).toMatch(/^evt_/);
    const file = join(scratch, "payload.json");
    writeFileSync(file, '{"from":"file"}');
    const fromFile = await runCli(["publish", "--tenant", tenantId, "--type", "cli.file", "--file", file, "--json"], env());
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(JSON.parse(fromFile.stdout).results[0].eventId).toMatch(/^evt_/);
    const fromStdin = await runCli(["publish", "--tenant", tenantId, "--type", "cli.stdin"], env(), '{"from":"stdin"}');
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    await rx.waitFor((r) => r.length >= 3, 15_000);
    expect(rx.requests.map((r) => JSON.parse(r.body.toString()).from).sort()).toEqual(["data", "file", "stdin"]);
    const bad = await runCli(["publish", "--tenant", tenantId, "--type", "cli.bad", "--data", "{nope"], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--data is not JSON/);
  });

  it("lists events newest first by tenant, type and age, and deliveries by age", async () => {
    const rx = await receiver();
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "cli events");
    const { results } = await api.events.publish({
      events: ["cli.one", "cli.two", "cli.one"].map((type) => ({ tenantId, type, payload: new TextEncoder().encode("{}") })),
    });
    const ids = results.map((r) => r.eventId);
    const listed = await runCli(["events", "--tenant", tenantId, "--json"], env());
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).events.map((e: { id: string }) => e.id)).toEqual([...ids].reverse());
    const typed = await runCli(["events", "list", "--tenant", tenantId, "--type", "cli.one", "--since", "1h"], env());
    expect(typed.code, typed.stderr).toBe(0);
    expect(typed.stdout.trim().split("\n").map((line) => line.split(/\s+/)[1])).toEqual([ids[2], ids[0]]);
    await eventually(async () => (await runCli(["deliveries", "--endpoint", endpointId, "--since", "1h", "--json"], env())).stdout.includes(ids[2]!), 15_000, "deliveries listed");
    const none = await runCli(["deliveries", "--endpoint", endpointId, "--since", "0ms", "--json"], env());
    expect(JSON.parse(none.stdout).deliveries ?? []).toEqual([]);
  });

  it("reads as JSON, updates, tests and deletes an endpoint, and shows stats", { timeout: 120_000 }, async () => {
    let up = true;
    const rx = await receiver(() => (up ? { status: 200 } : { status: 503, body: "down" }));
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "cli endpoint", { eventTypes: ["only.this"] });

    const got = await runCli(["endpoints", "get", endpointId, "--json"], env());
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ id: endpointId, tenantId, url: rx.url });
    const listed = JSON.parse((await runCli(["endpoints", "--tenant", tenantId, "--json"], env())).stdout);
    expect(listed.endpoints.map((e: { id: string }) => e.id)).toEqual([endpointId]);

    const updated = await runCli(["endpoints", "update", endpointId, "--description", "from the cli", "--max-in-flight", "3", "--json"], env());
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ description: "from the cli", maxInFlight: 3 });
    const nothing = await runCli(["endpoints", "update", endpointId], env());
    expect(nothing.code).toBe(2);

    // A test event reaches this endpoint although its filter does not match hookline.test.
    const tested = await runCli(["endpoints", "test", endpointId], env());
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/delivered\n\s+#1\s+\S+\s+200\s/);
    expect(rx.requests.at(-1)?.headers["webhook-id"]).toMatch(/^dlv_/);
    expect(JSON.parse(rx.requests.at(-1)!.body.toString())).toMatchObject({ test: true });
    up = false;
    const failed = await runCli(["endpoints", "test", endpointId, "--data", '{"probe":1}'], env());
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/failed\n\s+#1\s+\S+\s+503\s.*body: down/);

    const stats = await runCli(["endpoints", "stats", endpointId, "--json"], env());
    expect(JSON.parse(stats.stdout)).toMatchObject({ endpointId });
    const totals = JSON.parse((await runCli(["stats", "--tenant", tenantId, "--json"], env())).stdout);
    expect(totals).toMatchObject({ endpoints: 1, enabled: 1 });

    const deleted = await runCli(["endpoints", "delete", endpointId], env());
    expect(deleted.code, deleted.stderr).toBe(0);
    const gone = await runCli(["endpoints", "get", endpointId], env());
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/not_found/);

    const refused = await runCli(["tenants", "delete", tenantId], env());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/force/);
    expect((await runCli(["tenants", "delete", tenantId, "--force"], env())).code).toBe(0);
    const deliveries = await api.deliveries.listDeliveries({ tenantId, statuses: [DeliveryStatus.PENDING, DeliveryStatus.RETRYING] });
    expect(deliveries.deliveries).toEqual([]);
  });

  it("lists deliveries and attempts as JSON, and attempts with their request headers as text", async () => {
    const rx = await receiver();
    const { tenantId } = await tenantWithEndpoint(rx, "cli json", { headers: { "x-api-key": "s3cret-value" } });
    const { results } = await api.events.publish({ events: [{ tenantId, type: "cli.json", payload: new TextEncoder().encode('{"n":1}') }] });
    const delivery = await eventually(
      async () => (await api.deliveries.listDeliveries({ eventId: results[0]!.eventId, statuses: [DeliveryStatus.SUCCEEDED] })).deliveries[0],
      15_000,
      "delivered",
    );
    const listed = JSON.parse((await runCli(["deliveries", "--tenant", tenantId, "--json"], env())).stdout);
    expect(listed.deliveries[0]).toMatchObject({ id: delivery.id, status: "DELIVERY_STATUS_SUCCEEDED" });
    const attempts = JSON.parse((await runCli(["attempts", delivery.id, "--json"], env())).stdout);
    expect(attempts.delivery.id).toBe(delivery.id);
    expect(attempts.attempts[0]).toMatchObject({ number: 1, statusCode: 200 });
    expect(attempts.attempts[0].requestHeaders).toMatchObject({ "webhook-id": delivery.id, "x-api-key": "<redacted>" });
    const text = (await runCli(["attempts", delivery.id], env())).stdout;
    expect(text).toContain(`webhook-id: ${delivery.id}`);
    expect(text).toContain(`webhook-signature: ${String(rx.requests[0]!.headers["webhook-signature"])}`);
    expect(text).toContain("x-api-key: <redacted>");
    expect(text).not.toContain("s3cret-value");
    const event = JSON.parse((await runCli(["events", "get", results[0]!.eventId, "--json"], env())).stdout);
    expect(Buffer.from(event.payload, "base64").toString()).toBe('{"n":1}');
  });
});
