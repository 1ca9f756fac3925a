import { describe, expect, it } from "vitest";
import { deliveryId, hasPrefix, idAtTime, newId, type IdPrefix } from "../../src/core/ids.ts";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The millisecond time in the first 10 characters of the ULID part. */
function timeOf(id: string): number {
  const ulid = id.slice(id.indexOf("_") + 1);
  let ms = 0;
  for (const ch of ulid.slice(0, 10)) ms = ms * 32 + CROCKFORD.indexOf(ch);
  return ms;
}

describe("newId", () => {
  it.each<IdPrefix>(["tnt", "ep", "evt", "dlv", "att"])("%s ids carry the prefix and 26 Crockford base32 characters", (prefix) => {
    const id = newId(prefix);
    expect(id).toMatch(new RegExp(`^${prefix}_[${CROCKFORD}]{26}$`));
    expect(id).toHaveLength(prefix.length + 1 + 26);
    expect(hasPrefix(id, prefix)).toBe(true);
  });

  it("encodes the creation time", () => {
    const ms = Date.UTC(2030, 5, 1, 12, 0, 0, 123);
    expect(timeOf(newId("evt", ms))).toBe(ms);
  });

  it("is strictly increasing within the same millisecond", () => {
    const ms = Date.UTC(2031, 0, 1);
    const ids = Array.from({ length: 2000 }, () => newId("evt", ms));
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(timeOf(ids[0]!)).toBe(ms);
  });

  it("sorts later milliseconds after earlier ones, and stays monotonic if the clock steps back", () => {
    const t = Date.UTC(2032, 0, 1);
    const a = newId("dlv", t);
    const b = newId("dlv", t + 1);
    const c = newId("dlv", t + 1000);
    const d = newId("dlv", t + 500); // clock went backwards
    expect([a, b, c, d]).toEqual([a, b, c, d].slice().sort());
    expect(d > c).toBe(true);
    expect(timeOf(c)).toBe(t + 1000);
  });

  it("different kinds share one order by time", () => {
    const t = Date.UTC(2033, 0, 1);
    const first = newId("tnt", t).slice(4);
    const second = newId("ep", t + 1).slice(3);
    expect(second > first).toBe(true);
  });
});

describe("hasPrefix", () => {
  it("needs the right prefix and length", () => {
    const id = newId("ep");
    expect(hasPrefix(id, "ep")).toBe(true);
    expect(hasPrefix(id, "evt")).toBe(false);
    expect(hasPrefix(id + "0", "ep")).toBe(false);
    expect(hasPrefix("ep_short", "ep")).toBe(false);
  });
});

describe("idAtTime", () => {
  it("separates the ids made before a moment from those made at or after it", () => {
    const at = Date.UTC(2040, 2, 3, 4, 5, 6, 7);
    const bound = idAtTime("evt", at);
    // Made in time order and later than the ids above: ids are monotonic within the process.
    const [before, atMoment, after] = [newId("evt", at - 1), newId("evt", at), newId("evt", at + 1)];
    expect(before < bound).toBe(true);
    expect(atMoment >= bound).toBe(true);
    expect(after > bound).toBe(true);
    // Delivery ids carry their event's time.
    expect(deliveryId(atMoment, 0) >= idAtTime("dlv", at)).toBe(true);
    expect(deliveryId(before, 31) < idAtTime("dlv", at)).toBe(true);
  });

  it("clamps times outside what an id can hold", () => {
    expect(idAtTime("evt", -5)).toBe("evt_0000000000");
    expect(idAtTime("evt", Number.MAX_SAFE_INTEGER)).toBe("evt_7ZZZZZZZZZ");
  });
});
