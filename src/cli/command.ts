import { parseArgs } from "node:util";
import { parseDuration } from "../config/config.ts";

/** A flag of a command: strings take a value, booleans do not. */
export interface Flag {
  type: "string" | "boolean";
  help: string;
  /** Shown in help; the command applies it itself. */
  default?: string;
  /** Placeholder in help, e.g. ID or DURATION. */
  value?: string;
  short?: string;
}

export interface Positional {
  name: string;
  help: string;
  optional?: boolean;
}

export type FlagValues = Record<string, string | boolean | undefined>;

export interface Invocation {
  flags: FlagValues;
  args: string[];
}

export interface Command {
  /** Words that select it, e.g. "endpoints create". */
  name: string;
  summary: string;
  args?: Positional[];
  flags?: Record<string, Flag>;
  run(invocation: Invocation): Promise<void>;
}

/** The command line cannot be used: printed with the command's name, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const HELP_FLAG: Flag = { type: "boolean", short: "h", help: "show this help" };

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/** The closest of `known` to `word`, if it is close enough to be a typo. */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = distance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Strict parsing: unknown flags, missing values and extra arguments are refused with a hint. */
export function parseInvocation(command: Command, argv: readonly string[]): Invocation | "help" {
  const flags = { ...command.flags, help: HELP_FLAG };
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, f] of Object.entries(flags)) options[name] = f.short ? { type: f.type, short: f.short } : { type: f.type };
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    const message = (err as Error).message;
    const unknown = /Unknown option '(-{1,2})([^'=]+)/.exec(message);
    if (unknown) {
      const guess = didYouMean(unknown[2] as string, Object.keys(flags));
      throw new UsageError(`unknown flag ${unknown[1]}${unknown[2]}${guess ? `; did you mean --${guess}?` : ""} (see --help)`);
    }
    const missing = /Option '(?:-\w, )?(--[^ ]+) <value>' argument missing/.exec(message);
    if (missing) throw new UsageError(`flag ${missing[1]} needs a value`);
    throw new UsageError(message.split("\n")[0] ?? message);
  }
  if (parsed.values.help === true) return "help";
  const positionals = command.args ?? [];
  const required = positionals.filter((p) => !p.optional).length;
  if (parsed.positionals.length > positionals.length)
    throw new UsageError(`unexpected argument "${parsed.positionals[positionals.length]}" (see --help)`);
  if (parsed.positionals.length < required) throw new UsageError(`${(positionals[parsed.positionals.length] as Positional).name} is required (see --help)`);
  return { flags: parsed.values as FlagValues, args: parsed.positionals };
}

export function commandHelp(command: Command): string {
  const args = (command.args ?? []).map((a) => (a.optional ? `[${a.name}]` : a.name)).join(" ");
  const lines = [`usage: hookline ${command.name}${args ? ` ${args}` : ""}${command.flags ? " [flags]" : ""}`, "", command.summary, ""];
  for (const a of command.args ?? []) lines.push(`  ${a.name.padEnd(26)}${a.help}`);
  const flags = { ...command.flags, help: HELP_FLAG };
  for (const [name, f] of Object.entries(flags)) {
    const left = `${f.short ? `-${f.short}, ` : ""}--${name}${f.type === "string" ? ` ${f.value ?? "VALUE"}` : ""}`;
    lines.push(`  ${left.padEnd(26)}${f.help}${f.default !== undefined ? ` (default ${f.default})` : ""}`);
  }
  return lines.join("\n") + "\n";
}

// Flag values, checked with errors that name the flag.

export function text(flags: FlagValues, name: string, fallback = ""): string {
  const v = flags[name];
  return typeof v === "string" ? v : fallback;
}

export function requiredText(flags: FlagValues, name: string): string {
  const v = text(flags, name);
  if (v.trim() === "") throw new UsageError(`--${name} is required`);
  return v;
}

export function integer(flags: FlagValues, name: string, fallback: number, min: number, max: number): number {
  const raw = flags[name];
  if (typeof raw !== "string") return fallback;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
  return Number(raw);
}

export function decimal(flags: FlagValues, name: string): number | undefined {
  const raw = flags[name];
  if (typeof raw !== "string") return undefined;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number of 0 or more (got "${raw}")`);
  return n;
}

export function list(flags: FlagValues, name: string): string[] | undefined {
  const raw = flags[name];
  if (typeof raw !== "string") return undefined;
  return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** A duration flag ("500ms", "15s", "24h") in milliseconds. */
export function duration(flags: FlagValues, name: string): number | undefined {
  const raw = flags[name];
  if (typeof raw !== "string") return undefined;
  try {
    return parseDuration(raw);
  } catch (err) {
    throw new UsageError(`--${name} ${(err as Error).message}`);
  }
}

/** Every page of a list call, collected. */
export async function allPages<T>(fetch: (pageToken: string) => Promise<{ items: T[]; nextPageToken: string }>): Promise<T[]> {
  const all: T[] = [];
  let pageToken = "";
  do {
    const page = await fetch(pageToken);
    all.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return all;
}
