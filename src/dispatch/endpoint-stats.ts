/** Recent attempts of one endpoint (a fixed-size ring) for success rate and latency percentiles. */
export class AttemptWindow {
  private readonly durations: Float64Array;
  private readonly successes: Uint8Array;
  private next = 0;
  private size = 0;
  lastSuccessMs = 0;
  lastFailureMs = 0;

  constructor(private readonly capacity = 1000) {
    this.durations = new Float64Array(capacity);
    this.successes = new Uint8Array(capacity);
  }

  record(success: boolean, durationMs: number, atMs: number): void {
    this.durations[this.next] = durationMs;
    this.successes[this.next] = success ? 1 : 0;
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
    if (success) this.lastSuccessMs = atMs;
    else this.lastFailureMs = atMs;
  }

  summary(): { attempts: number; successRate: number; p50: number; p95: number; p99: number } {
    if (this.size === 0) return { attempts: 0, successRate: 0, p50: 0, p95: 0, p99: 0 };
    let ok = 0;
    for (let i = 0; i < this.size; i++) ok += this.successes[i] as number;
    const sorted = Array.from(this.durations.subarray(0, this.size)).sort((a, b) => a - b);
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
    return { attempts: this.size, successRate: ok / this.size, p50: at(0.5), p95: at(0.95), p99: at(0.99) };
  }
}
