/** A growable list of numbers (latencies) with percentiles; kept as a Float64Array to stay cheap. */
export class Samples {
  private values = new Float64Array(4096);
  count = 0;

  add(v: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = v;
  }

  addAll(other: Samples): void {
    for (let i = 0; i < other.count; i++) this.add(other.values[i] as number);
  }

  summary(): LatencySummary {
    return summarize(this.values.subarray(0, this.count));
  }
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(values: Float64Array | number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number): number => (sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number));
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.length ? (sorted[sorted.length - 1] as number) : 0 };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A latency for reports: "850 ms", "4.5 ms", "1.04 s". */
export function formatMs(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 1 : 0)} ms`;
}
