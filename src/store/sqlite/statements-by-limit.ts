import type Database from "better-sqlite3";

/** Distinct LIMIT values kept prepared per statement; the least recently used goes first. */
const MAX_PREPARED = 64;

/**
 * One SQL statement prepared once per LIMIT it is run with, the LIMIT written as a literal.
 *
 * SQLite reads a bound LIMIT while planning (better-sqlite3 builds it with STAT4), so binding
 * that parameter expires the statement and every run prepares it again. For a claim that
 * finds one due delivery that was 62 µs against 4 µs with a literal LIMIT: most of the
 * claim's cost whenever endpoints have little waiting (`bench/micro/scheduler-claim.ts`,
 * "50 endpoints x 1": 11,859 → 27,920 claimed deliveries/s).
 */
export class StatementsByLimit {
  private readonly prepared = new Map<number, Database.Statement>();

  /** `sql` holds `@limit` where the LIMIT goes. */
  constructor(
    private readonly db: Database.Database,
    private readonly sql: string,
  ) {
    if (!sql.includes("@limit")) throw new Error("StatementsByLimit: the SQL has no @limit");
  }

  get(limit: number): Database.Statement {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`LIMIT must be a positive integer, got ${limit}`);
    let statement = this.prepared.get(limit);
    if (statement) {
      // Most recently used last, so eviction takes the oldest.
      this.prepared.delete(limit);
    } else {
      statement = this.db.prepare(this.sql.replaceAll("@limit", String(limit)));
      if (this.prepared.size >= MAX_PREPARED) this.prepared.delete(this.prepared.keys().next().value as number);
    }
    this.prepared.set(limit, statement);
    return statement;
  }
}
