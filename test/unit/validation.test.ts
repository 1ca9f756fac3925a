import { describe, expect, it } from "vitest";
import { HooklineError } from "../../src/core/errors.ts";
import {
  checkEventType,
  checkEventTypeFilters,
  checkHeaders,
  checkMetadata,
  checkPageSize,
  checkRate,
  checkSuccessStatusCodes,
  checkUrl,
  matchesEventType,
} from "../../src/core/validation.ts";
import { thrown } from "../helpers/errors.ts";

/** The field a validation error names (fails when fn does not throw a HooklineError). */
function fieldOf(fn: () => unknown): string {
  const e = thrown(fn, HooklineError);
  expect(e.code).toBe("invalid_argument");
  expect(e.violations).toHaveLength(1);
  expect(e.message.startsWith(`${e.violations[0]!.field}: `)).toBe(true);
  return e.violations[0]!.field;
}

describe("matchesEventType", () => {
  it.each([
    [[], "anything.at.all", true],
    [["invoice.paid"], "invoice.paid", true],
    [["invoice.paid"], "invoice.paid.late", false],
    [["invoice.paid"], "invoice", false],
    [["invoice.*"], "invoice.paid", true],
    [["invoice.*"], "invoice.paid.late", true],
    [["invoice.*"], "invoice", false],
    [["invoice.*"], "invoices.paid", false],
    [["invoice.*"], "customer.created", false],
    [["*"], "customer.created", true],
    [["customer.created", "invoice.*"], "invoice.voided", true],
    [["customer.created", "invoice.*"], "customer.deleted", false],
  ] as const)("%j matches %s: %s", (filters, type, expected) => {
    expect(matchesEventType(filters, type)).toBe(expected);
  });
});

describe("checkUrl", () => {
  it.each(["http://127.0.0.1:9000/hook", "https://example.com/webhooks?x=1", "https://[::1]:8443/a"])("accepts %s unchanged", (url) => {
    expect(checkUrl("url", url)).toBe(url);
  });

  it.each([
    ["", "empty"],
    ["   ", "blank"],
    ["/hook", "relative"],
    ["example.com/hook", "no scheme"],
    ["ftp://example.com/hook", "ftp"],
    ["javascript:alert(1)", "javascript"],
    ["http://user:pw@example.com/", "credentials"],
    ["http://user@example.com/", "user only"],
    ["https://example.com/hook#frag", "fragment"],
    [`https://example.com/${"a".repeat(2048)}`, "too long"],
  ])("refuses %j (%s) naming the field", (url) => {
    expect(fieldOf(() => checkUrl("endpoint.url", url))).toBe("endpoint.url");
  });
});

describe("checkHeaders", () => {
  it("lowercases names and keeps values", () => {
    expect(checkHeaders("headers", { "X-Tenant-Id": "A b", authorization: "Bearer t" })).toEqual({
      "x-tenant-id": "A b",
      authorization: "Bearer t",
    });
  });

  it.each([
    [{ "webhook-id": "x" }, "headers[webhook-id]"],
    [{ "Webhook-Signature": "x" }, "headers[Webhook-Signature]"],
    [{ "Content-Type": "text/plain" }, "headers[Content-Type]"],
    [{ host: "evil" }, "headers[host]"],
    [{ "bad name": "x" }, "headers[bad name]"],
    [{ "x:y": "x" }, "headers[x:y]"],
    [{ "x-ok": "a\r\nb" }, "headers[x-ok]"],
    [{ "x-ok": "a\nb" }, "headers[x-ok]"],
    [{ "x-ok": "a\u0000b" }, "headers[x-ok]"],
    [{ "x-long": "v".repeat(4097) }, "headers[x-long]"],
  ])("refuses %j as %s", (headers, field) => {
    expect(fieldOf(() => checkHeaders("headers", headers))).toBe(field);
  });
});

describe("event types and filters", () => {
  it.each(["a", "invoice.paid", "Order_v2.created-at", "a.b.c.d"])("accepts type %s", (t) => {
    expect(checkEventType("type", t)).toBe(t);
  });

  it.each(["", "a..b", ".a", "a.", "has space", "a/b", "x".repeat(129), "a.*"])("refuses type %j", (t) => {
    expect(fieldOf(() => checkEventType("type", t))).toBe("type");
  });

  it("accepts exact, prefix.* and * filters", () => {
    expect(checkEventTypeFilters("event_types", ["a.b", "c.*", "*"])).toEqual(["a.b", "c.*", "*"]);
  });

  it.each([
    [["a.*.b"], "event_types[0]"],
    [["ok", "*.b"], "event_types[1]"],
    [["a*"], "event_types[0]"],
    [[".*"], "event_types[0]"],
    [["ok", "bad type"], "event_types[1]"],
  ])("refuses %j naming %s", (filters, field) => {
    expect(fieldOf(() => checkEventTypeFilters("event_types", filters))).toBe(field);
  });
});

describe("numbers and maps", () => {
  it.each([0, 1, 0.5, 100_000])("accepts rate %s", (r) => expect(checkRate("rate", r)).toBe(r));
  it.each([-1, Number.NaN, Infinity, 100_001])("refuses rate %s", (r) => expect(fieldOf(() => checkRate("rate", r))).toBe("rate"));

  it("page size 0 means 100; 1 to 1000 pass; others are refused", () => {
    expect(checkPageSize("page_size", 0)).toBe(100);
    expect(checkPageSize("page_size", 1)).toBe(1);
    expect(checkPageSize("page_size", 1000)).toBe(1000);
    expect(fieldOf(() => checkPageSize("page_size", -1))).toBe("page_size");
    expect(fieldOf(() => checkPageSize("page_size", 1001))).toBe("page_size");
  });

  it("metadata is bounded in entries, key and value length", () => {
    expect(checkMetadata("metadata", { a: "1" })).toEqual({ a: "1" });
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"]));
    expect(fieldOf(() => checkMetadata("metadata", many))).toBe("metadata");
    expect(fieldOf(() => checkMetadata("metadata", { "": "v" }))).toBe("metadata[]");
    expect(fieldOf(() => checkMetadata("metadata", { k: "v".repeat(513) }))).toBe("metadata[k]");
  });
});

describe("checkSuccessStatusCodes", () => {
  it("accepts distinct codes from 100 to 599, in the order given", () => {
    expect(checkSuccessStatusCodes("codes", [])).toEqual([]);
    expect(checkSuccessStatusCodes("codes", [409, 100, 302, 599])).toEqual([409, 100, 302, 599]);
  });
  it.each([99, 600, 0, 1000])("refuses %i, naming the entry", (code) => {
    expect(fieldOf(() => checkSuccessStatusCodes("codes", [409, code]))).toBe("codes[1]");
  });
  it("refuses a repeated code and a list longer than 20", () => {
    expect(fieldOf(() => checkSuccessStatusCodes("codes", [302, 409, 302]))).toBe("codes[2]");
    expect(fieldOf(() => checkSuccessStatusCodes("codes", Array.from({ length: 21 }, (_, i) => 300 + i)))).toBe("codes");
  });
});
