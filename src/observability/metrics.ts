/** A small Prometheus text-format registry: counters, gauges and fixed-bucket histograms. */

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.map((k) => `${k}="${String(labels[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",");
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [key, value] of this.values) lines.push(`${this.name}${key ? `{${key}}` : ""} ${value}`);
    return lines.join("\n");
  }
}

export class Gauge implements Metric {
  constructor(readonly name: string, readonly help: string, private readonly read: () => number) {}

  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${this.read()}`].join("\n");
  }
}

export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, private readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= (this.buckets[i] as number)) this.counts[i] = (this.counts[i] as number) + 1;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join("\n");
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }

  gauge(name: string, help: string, read: () => number): Gauge {
    return this.add(new Gauge(name, help, read));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }

  private add<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }

  render(): string {
    return this.metrics.map((m) => m.render()).join("\n") + "\n";
  }
}

/** The metrics hookline exports on GET /metrics. */
export function createMetrics() {
  const registry = new Registry();
  const memory = (): NodeJS.MemoryUsage => process.memoryUsage();
  return {
    registry,
    eventsPublished: registry.counter("hookline_events_published_total", "Events stored (duplicates excluded)."),
    eventsDuplicate: registry.counter("hookline_events_duplicate_total", "Publishes answered from the idempotency window."),
    deliveriesCreated: registry.counter("hookline_deliveries_created_total", "Deliveries created by fan-out."),
    attempts: registry.counter("hookline_attempts_total", "HTTP attempts by outcome (success, retry, gone, fail)."),
    deliveriesFinished: registry.counter("hookline_deliveries_finished_total", "Deliveries reaching a final state, by status."),
    attemptSeconds: registry.histogram("hookline_attempt_duration_seconds", "Duration of HTTP attempts.", [
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
    ]),
    commitSeconds: registry.histogram("hookline_publish_commit_duration_seconds", "Duration of group commits.", [
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
    ]),
    pruned: registry.counter("hookline_retention_pruned_total", "Rows removed by retention, by kind (events, deliveries, attempts)."),
    rss: registry.gauge("hookline_process_resident_memory_bytes", "Resident memory.", () => memory().rss),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
