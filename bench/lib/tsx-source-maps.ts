/**
 * Maps positions in tsx-compiled code back to TypeScript lines. tsx compiles with
 * minifyWhitespace, so V8 profiles point at line 1 of one long line; its cache
 * (os.tmpdir()/tsx-<uid>/, JSON {code, map}) holds the source maps. Newest entry per file wins,
 * so profile soon after the run (before src/ changes).
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Per generated line: [generated column, original line] pairs in column order. */
type Lines = [number, number][][];

function decode(mappings: string): Lines {
  const lines: Lines = [];
  let sourceLine = 0;
  for (const lineText of mappings.split(";")) {
    const segments: [number, number][] = [];
    let column = 0;
    for (const segment of lineText.split(",")) {
      if (segment === "") continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of segment) {
        const digit = BASE64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += fields[0] ?? 0;
      if (fields.length >= 4) {
        sourceLine += fields[2] ?? 0;
        segments.push([column, sourceLine]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

export class TsxSourceMaps {
  private readonly byFile = new Map<string, { mtimeMs: number; mappings: string }>();
  private readonly decoded = new Map<string, Lines>();

  constructor() {
    const dir = join(tmpdir(), `tsx-${userInfo().uid}`);
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        const entry = JSON.parse(readFileSync(path, "utf8")) as { map?: { sources?: string[]; mappings?: string } };
        const source = entry.map?.sources?.[0];
        if (!source || !entry.map?.mappings) continue;
        const mtimeMs = statSync(path).mtimeMs;
        const known = this.byFile.get(source);
        if (!known || known.mtimeMs < mtimeMs) this.byFile.set(source, { mtimeMs, mappings: entry.map.mappings });
      } catch {
        // not a cache entry we understand
      }
    }
  }

  /** 1-based original line of a 0-based generated position, if the file's map is cached. */
  originalLine(file: string, line: number, column: number): number | undefined {
    let lines = this.decoded.get(file);
    if (!lines) {
      const entry = this.byFile.get(file);
      if (!entry) return undefined;
      lines = decode(entry.mappings);
      this.decoded.set(file, lines);
    }
    const segments = lines[line];
    if (!segments || segments.length === 0) return undefined;
    let found: number | undefined;
    for (const [col, src] of segments) {
      if (col > column) break;
      found = src;
    }
    return (found ?? (segments[0] as [number, number])[1]) + 1;
  }
}
