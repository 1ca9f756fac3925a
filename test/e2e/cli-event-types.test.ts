import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { runCli } from "../helpers/server.ts";

const { server, api, newTenant } = useHookline();
const env = () => ({ HOOKLINE_SERVER: server.baseUrl, HOOKLINE_API_KEY: TEST_ADMIN_KEY });
const scratch = mkdtempSync(join(tmpdir(), "hookline-cli-types-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("hookline event-types", () => {
  it("creates a type with --schema-file, lists, updates, archives it; publish then follows the catalog", async () => {
    const tenantId = await newTenant("cli catalog");
    const schemaFile = join(scratch, "schema.json");
    writeFileSync(schemaFile, JSON.stringify({ type: "object", properties: { total: { type: "integer" } }, required: ["total"] }));

    const created = await runCli(
      ["event-types", "create", "cart.checked_out", "--tenant", tenantId, "--description", "A cart was paid", "--schema-file", schemaFile, "--example", '{"total":3}', "--json"],
      env(),
    );
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: "cart.checked_out", tenantId, description: "A cart was paid" });

    const listed = await runCli(["event-types", "--tenant", tenantId], env());
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`cart.checked_out  ${tenantId}  schema=yes  A cart was paid`);

    const refused = await runCli(["publish", "--tenant", tenantId, "--type", "cart.checked_out", "--data", '{"total":"3"}'], env());
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("events[0].payload/total: must be integer");

    const badSchema = join(scratch, "bad.json");
    writeFileSync(badSchema, '{"type": "int"}');
    const invalid = await runCli(["event-types", "update", "cart.checked_out", "--tenant", tenantId, "--schema-file", badSchema], env());
    expect(invalid.code).not.toBe(0);
    expect(invalid.stderr).toContain("event_type.schema");

    const cleared = await runCli(["event-types", "update", "cart.checked_out", "--tenant", tenantId, "--no-schema", "--description", "No rules"], env());
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toContain("schema=no  No rules");
    const accepted = await runCli(["publish", "--tenant", tenantId, "--type", "cart.checked_out", "--data", '{"total":"3"}'], env());
    expect(accepted.code, accepted.stderr).toBe(0);

    const archived = await runCli(["event-types", "archive", "cart.checked_out", "--tenant", tenantId], env());
    expect(archived.stdout).toContain("archived");
    const strict = await runCli(["tenants", "update", tenantId, "--strict-event-types", "true"], env());
    expect(strict.stdout).toContain("strict-event-types");
    const unknown = await runCli(["publish", "--tenant", tenantId, "--type", "cart.checked_out", "--data", "{}"], env());
    expect(unknown.stderr).toContain("events[0].type");
    expect((await api.tenants.getTenant({ id: tenantId })).tenant?.strictEventTypes).toBe(true);

    const missingFile = await runCli(["event-types", "create", "x.y", "--schema-file", join(scratch, "nope.json")], env());
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toContain("--schema-file");
  });
});
