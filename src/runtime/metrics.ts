/**
 * Where the runtime counts what operators watch (lock takeovers, degraded runs, …). The Lambda adapters back it
 * with Powertools Metrics (CloudWatch EMF); the local runner and tests record into memory.
 */
export interface MetricsSink {
  count(name: string, value?: number): void;
}

/** Records counts in memory: for tests and the local runner's summary. */
export class CountingMetrics implements MetricsSink {
  readonly counts = new Map<string, number>();

  count(name: string, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }

  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }
}
