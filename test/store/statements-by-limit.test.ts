import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StatementsByLimit } from "../../src/store/sqlite/statements-by-limit.ts";

describe("StatementsByLimit", () => {
  let db: Database.Database;
  beforeEach(() => {
    db = new Database(":memory:");
    db.exec("CREATE TABLE t (n INTEGER PRIMARY KEY)");
    const insert = db.prepare("INSERT INTO t (n) VALUES (?)");
    for (let n = 1; n <= 200; n++) insert.run(n);
  });
  afterEach(() => db.close());

  it("returns as many rows as each limit asks, past the number of limits it keeps prepared", () => {
    const byLimit = new StatementsByLimit(db, "SELECT n FROM t WHERE n > @after ORDER BY n LIMIT @limit");
    for (let limit = 1; limit <= 150; limit++) {
      const rows = byLimit.get(limit).all({ after: 10 }) as { n: number }[];
      expect(rows.length).toBe(limit);
      expect(rows[0]?.n).toBe(11);
    }
    // Evicted and prepared again: still the right answer.
    expect(byLimit.get(1).all({ after: 199 })).toEqual([{ n: 200 }]);
  });

  it("reuses the statement prepared for a limit", () => {
    const byLimit = new StatementsByLimit(db, "SELECT n FROM t LIMIT @limit");
    expect(byLimit.get(5)).toBe(byLimit.get(5));
    expect(byLimit.get(5)).not.toBe(byLimit.get(6));
  });

  it("refuses a limit that is not a positive integer, and SQL without @limit", () => {
    const byLimit = new StatementsByLimit(db, "SELECT n FROM t LIMIT @limit");
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => byLimit.get(bad)).toThrow(/positive integer/);
    expect(() => new StatementsByLimit(db, "SELECT n FROM t LIMIT 5")).toThrow(/no @limit/);
  });
});
