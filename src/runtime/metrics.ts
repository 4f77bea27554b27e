import type { MetricName } from '../contract/metrics.ts';

/**
 * Where the runtime counts what operators watch (lock takeovers, degraded runs, …). The Lambda adapters back it
 * with Powertools Metrics (CloudWatch EMF); the local runner and tests record into memory.
 */
export interface MetricsSink {
  count(name: MetricName, value?: number): void;
}

/** Records counts in memory: for tests and the local runner's summary. */
export class CountingMetrics implements MetricsSink {
  readonly counts = new Map<MetricName, number>();

  count(name: MetricName, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }

  get(name: MetricName): number {
    return this.counts.get(name) ?? 0;
  }
}
