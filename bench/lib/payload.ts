/**
 * What every bench event carries so the fleet can check it without asking anyone:
 * seq (event number in the run), t (publish time, ms), and for ordered runs k/s
 * (ordering key and the event's position within that key), and pr (the event's priority
 * when not 0, so the fleet can time each priority lane on its own).
 */
export interface BenchPayload {
  seq: number;
  t: number;
  k?: string;
  s?: number;
  pr?: number;
}

const encoder = new TextEncoder();

/** JSON of the fields, padded with a "p" string to `size` bytes when it is shorter. */
export function encodePayload(p: BenchPayload, size: number): Uint8Array {
  const ordered = p.k === undefined ? "" : `,"k":${JSON.stringify(p.k)},"s":${p.s ?? 0}`;
  const priority = p.pr ? `,"pr":${p.pr}` : "";
  const head = `{"seq":${p.seq},"t":${p.t}${ordered}${priority},"p":"`;
  const padding = Math.max(0, size - head.length - 2);
  return encoder.encode(`${head}${"x".repeat(padding)}"}`);
}

export function decodePayload(body: Buffer): BenchPayload | undefined {
  try {
    const v = JSON.parse(body.toString("utf8")) as Partial<BenchPayload>;
    if (typeof v.seq !== "number" || typeof v.t !== "number") return undefined;
    return v as BenchPayload;
  } catch {
    return undefined;
  }
}
