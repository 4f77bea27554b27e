/**
 * The metrics the runtime publishes (Powertools EMF in Lambda, counted in memory locally) and the dashboard and
 * alarms read: one namespace, dimension `service` = the agent id, `steward` or `breaker-watchdog`.
 */
export const METRICS_NAMESPACE = 'Nightshift';

/** The dimension every runtime metric carries. */
export const SERVICE_DIMENSION = 'service';

/** Every metric name the runtime counts, and what a count means. */
export const METRIC = {
  RunsCompleted: 'RunsCompleted',
  RunsFailed: 'RunsFailed',
  RunsHalted: 'RunsHalted',
  RunsRefused: 'RunsRefused',
  DegradedRuns: 'DegradedRuns',
  DuplicateRunsSkipped: 'DuplicateRunsSkipped',
  LeaseRenewals: 'LeaseRenewals',
  LocksLost: 'LocksLost',
  LockTakeovers: 'LockTakeovers',
  HeartbeatsSuperseded: 'HeartbeatsSuperseded',
  OutputsPublished: 'OutputsPublished',
  OutputsRefused: 'OutputsRefused',
  DuplicatesSuppressed: 'DuplicatesSuppressed',
  OutputsHeld: 'OutputsHeld',
  BreakerTrips: 'BreakerTrips',
  ContextTokensLoaded: 'ContextTokensLoaded',
  ModelCalls: 'ModelCalls',
  ModelCallsFailed: 'ModelCallsFailed',
  ModelCallsRefused: 'ModelCallsRefused',
  ModelInputTokens: 'ModelInputTokens',
  ModelOutputTokens: 'ModelOutputTokens',
  ModelCacheReadTokens: 'ModelCacheReadTokens',
  UpdatesApplied: 'UpdatesApplied',
  UpdatesDuplicate: 'UpdatesDuplicate',
  UpdatesRejected: 'UpdatesRejected',
  UpdatesUnauthorized: 'UpdatesUnauthorized',
  EntriesEmbedded: 'EntriesEmbedded',
  EmbeddingTokens: 'EmbeddingTokens',
  EmbeddingsFailed: 'EmbeddingsFailed',
} as const;

export type MetricName = keyof typeof METRIC;
