import { describe, expect, it } from "vitest";
import { HooklineError } from "../../src/core/errors.ts";
import { decodePageToken, encodePageToken } from "../../src/core/page-token.ts";
import { thrown } from "../helpers/errors.ts";

const refusal = (fn: () => unknown): HooklineError => thrown(fn, HooklineError);

describe("page tokens", () => {
  it("round-trip the last id for the same kind", () => {
    const token = encodePageToken("tenants", "tnt_01HZX9");
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/); // URL-safe, opaque
    expect(token).not.toContain("tnt_01HZX9");
    expect(decodePageToken("page_token", "tenants", token)).toBe("tnt_01HZX9");
  });

  it("an empty token means the first page", () => {
    expect(decodePageToken("page_token", "tenants", "")).toBeUndefined();
  });

  it("refuses a token of another list, naming the field", () => {
    const token = encodePageToken("endpoints", "ep_1");
    const err = refusal(() => decodePageToken("page_token", "tenants", token));
    expect(err.code).toBe("invalid_argument");
    expect(err.violations.map((v) => v.field)).toEqual(["page_token"]);
  });

  it.each([
    "garbage",
    "%%%",
    Buffer.from("[1,2]").toString("base64url"),
    Buffer.from(JSON.stringify({ k: "tenants", a: 5 })).toString("base64url"),
    Buffer.from(JSON.stringify({ k: "tenants" })).toString("base64url"),
    Buffer.from("null").toString("base64url"),
  ])("refuses %j", (token) => {
    const err = refusal(() => decodePageToken("req.page_token", "tenants", token));
    expect(err.code).toBe("invalid_argument");
    expect(err.violations.map((v) => v.field)).toEqual(["req.page_token"]);
  });
});
