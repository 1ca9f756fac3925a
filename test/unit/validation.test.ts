import { describe, expect, it } from "vitest";
import { HooklineError } from "../../src/core/errors.ts";
import {
  checkEventType,
  checkEventTypeFilters,
  checkHeaders,
  checkKey,
  checkMetadata,
  checkName,
  checkPageSize,
  checkPublishableEventType,
  checkRate,
  checkSuccessStatusCodes,
  checkText,
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
    // Operational events reach only endpoints that name them exactly.
    [[], "endpoint.disabled", false],
    [["*"], "delivery.dead", false],
    [["endpoint.*"], "endpoint.disabled", false],
    [["endpoint.*"], "endpoint.created", true],
    [["endpoint.disabled"], "endpoint.disabled", true],
    [["order.*", "delivery.dead"], "delivery.dead", true],
  ] as const)("%j matches %s: %s", (filters, type, expected) => {
    expect(matchesEventType(filters, type)).toBe(expected);
  });
});

describe("checkPublishableEventType", () => {
  it.each(["endpoint.disabled", "endpoint.enabled", "endpoint.breaker_opened", "delivery.dead"])("refuses the reserved type %s", (type) => {
    const e = thrown(() => checkPublishableEventType("type", type), HooklineError);
    expect(e.violations[0]!.field).toBe("type");
    expect(e.message).toContain("reserved for operational webhooks");
  });

  it("accepts other types, including ones that share a prefix", () => {
    expect(checkPublishableEventType("type", "endpoint.created")).toBe("endpoint.created");
    expect(checkPublishableEventType("type", "delivery.dead.letter")).toBe("delivery.dead.letter");
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
    ["https://example.com/a\r\nb", "CR LF (the URL parser would drop them)"],
    ["https://exam\tple.com/", "TAB in the host"],
    ["https://example.com/\na", "LF in the path"],
    [" https://example.com/", "leading space (the URL parser would trim it)"],
    ["https://example.com/ ", "trailing space"],
    ["https://example.com/a b", "inner space"],
    ["https://example.com/\u0000", "NUL"],
    ["https://example.com/\u007f", "DEL"],
    ["https://example.com/\u00a0", "no-break space"],
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
    [{ "x-ok": "a\tb" }, "headers[x-ok]"],
    [{ "x-ok": "a\u007fb" }, "headers[x-ok]"],
    [{ "x-ok": "caf\u00e9" }, "headers[x-ok]"],
    [{ "x-ok": " padded" }, "headers[x-ok]"],
    [{ "x-ok": "padded " }, "headers[x-ok]"],
    [{ "Content-Length": "5" }, "headers[Content-Length]"],
    [{ "User-Agent": "me" }, "headers[User-Agent]"],
    [{ "webhook-anything": "x" }, "headers[webhook-anything]"],
    [{ Connection: "close" }, "headers[Connection]"],
    [{ "keep-alive": "timeout=5" }, "headers[keep-alive]"],
    [{ "Proxy-Authorization": "Basic x" }, "headers[Proxy-Authorization]"],
    [{ "proxy-connection": "keep-alive" }, "headers[proxy-connection]"],
    [{ te: "trailers" }, "headers[te]"],
    [{ trailer: "x" }, "headers[trailer]"],
    [{ "Transfer-Encoding": "chunked" }, "headers[Transfer-Encoding]"],
    [{ upgrade: "h2c" }, "headers[upgrade]"],
    [{ Expect: "100-continue" }, "headers[Expect]"],
    [{ "HTTP2-Settings": "x" }, "headers[HTTP2-Settings]"],
  ])("refuses %j as %s", (headers, field) => {
    expect(fieldOf(() => checkHeaders("headers", headers))).toBe(field);
  });

  it("says why a header is refused", () => {
    expect(() => checkHeaders("headers", { connection: "close" })).toThrow(/hop-by-hop/);
    expect(() => checkHeaders("headers", { "webhook-x": "1" })).toThrow(/reserved/);
    expect(() => checkHeaders("headers", { host: "x" })).toThrow(/set by hookline/);
    expect(() => checkHeaders("headers", { "x-a": "a\u0001" })).toThrow(/visible ASCII/);
  });

  it("accepts visible ASCII values with inner spaces, and an empty value", () => {
    expect(checkHeaders("headers", { "x-a": "Bearer abc.def~!", "x-b": "", "x-c": "a  b" })).toEqual({
      "x-a": "Bearer abc.def~!",
      "x-b": "",
      "x-c": "a  b",
    });
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
  it.each([0, 1, 0.5, 0.01, 100_000])("accepts rate %s", (r) => expect(checkRate("rate", r)).toBe(r));
  it.each([-1, Number.NaN, Infinity, 100_001, 1e-9, 0.009, Number.MIN_VALUE])("refuses rate %s", (r) =>
    expect(fieldOf(() => checkRate("rate", r))).toBe("rate"),
  );

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

describe("text without control characters", () => {
  it.each(["a\u0000b", "line\nbreak", "tab\there", "bell\u0007", "del\u007f", "c1\u0085"])("refuses %j in names, text and keys", (value) => {
    expect(fieldOf(() => checkName("name", value))).toBe("name");
    expect(fieldOf(() => checkText("description", value, 1000))).toBe("description");
    expect(fieldOf(() => checkKey("ordering_key", value, 256))).toBe("ordering_key");
    expect(fieldOf(() => checkMetadata("metadata", { k: value }))).toBe("metadata[k]");
  });

  it("names the character and where it is", () => {
    expect(() => checkName("name", "ab\u0000")).toThrow("U+0000 at 2");
  });

  it("accepts any other Unicode text", () => {
    expect(checkName("name", "Zoë's café — 東京 🚀")).toBe("Zoë's café — 東京 🚀");
  });

  it("refuses control characters in metadata keys", () => {
    expect(() => checkMetadata("metadata", { "a\u0000": "v" })).toThrow(/control characters/);
  });
});
