/**
 * Maps positions in the compiled server (dist/*.js) back to TypeScript lines through the
 * source maps tsc writes next to each file (dist/x.js.map, with the sources inlined). A
 * profile's positions only match the dist/ it ran, so summarise before the next build.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

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

/** A compiled position's TypeScript file, 1-based line and the text of that line. */
export interface OriginalPosition {
  source: string;
  line: number;
  text: string;
}

interface FileMap {
  source: string;
  lines: Lines;
  text: string[];
}

export class SourceMaps {
  /** null: the file has no usable map. */
  private readonly byFile = new Map<string, FileMap | null>();

  /** The original position of a 0-based generated line and column, if `file` has a map. */
  originalPosition(file: string, line: number, column: number): OriginalPosition | undefined {
    const map = this.load(file);
    const segments = map?.lines[line];
    if (!map || !segments || segments.length === 0) return undefined;
    let found: number | undefined;
    for (const [col, src] of segments) {
      if (col > column) break;
      found = src;
    }
    const original = (found ?? (segments[0] as [number, number])[1]) + 1;
    return { source: map.source, line: original, text: map.text[original - 1] ?? "" };
  }

  private load(file: string): FileMap | null {
    const known = this.byFile.get(file);
    if (known !== undefined) return known;
    let map: FileMap | null = null;
    try {
      const raw = JSON.parse(readFileSync(`${file}.map`, "utf8")) as { sources?: string[]; sourcesContent?: string[]; mappings?: string };
      const source = raw.sources?.[0];
      if (source !== undefined && raw.mappings) {
        const path = resolve(dirname(file), source);
        let content = raw.sourcesContent?.[0];
        if (content === undefined) content = readFileSync(path, "utf8");
        map = { source: path, lines: decode(raw.mappings), text: content.split("\n") };
      }
    } catch {
      // no map, or not one we understand: positions stay as they are
    }
    this.byFile.set(file, map);
    return map;
  }
}
