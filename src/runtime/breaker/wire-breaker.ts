import type { BreakerSpec } from '../../config/agent-spec.ts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../clock.ts';
import type { MetricsSink } from '../metrics.ts';
import type { AlertSink } from './alerts.ts';
import { Breaker } from './breaker.ts';
import type { ScheduleSwitch } from './schedules.ts';

export interface BreakerWiring {
  readonly spec: BreakerSpec;
  readonly alerts: AlertSink;
  readonly schedules: ScheduleSwitch;
  /** Where the breaker is reset from: quoted in the alert. */
  readonly reset: { readonly stage: string } | 'local';
}

/** The command that resets a pipeline's breaker, as alerts and hints quote it. */
export function resetCommand(reset: BreakerWiring['reset']): string {
  return reset === 'local' ? 'npx nightshift breaker reset --local' : `npx nightshift breaker reset --stage ${reset.stage}`;
}

/** What the breaker is built on: a wiring (`Wiring`), or the same parts as a handler makes them. */
export interface BreakerCore {
  readonly dynamo: DynamoDBDocumentClient;
  readonly tables: { readonly counters: string };
  readonly clock: Clock;
  readonly metrics?: MetricsSink | undefined;
}

/**
 * The pipeline's circuit breaker over a wiring's client, counter table, clock and metrics, alerting and switching
 * schedules through `wiring`. Here rather than on `Wiring`, so an agent's bundle (which asks the breaker function)
 * never carries the breaker itself.
 */
export function wireBreaker(core: BreakerCore, wiring: BreakerWiring): Breaker {
  const { spec } = wiring;
  return new Breaker({
    client: core.dynamo,
    tableName: core.tables.counters,
    clock: core.clock,
    alerts: wiring.alerts,
    schedules: wiring.schedules,
    pipelineLabel: `${spec.pipeline} (${spec.stage}${wiring.reset === 'local' ? ', local' : ''})`,
    resetCommand: resetCommand(wiring.reset),
    pipelineLimit: { maxOutputs: spec.maxOutputs, windowMinutes: spec.windowMinutes },
    agentLimits: spec.agentLimits,
    ...(spec.reviews ? { reviews: spec.reviews } : {}),
    ...(spec.coolDownMinutes === undefined ? {} : { coolDownMinutes: spec.coolDownMinutes }),
    ...(core.metrics ? { metrics: core.metrics } : {}),
  });
}
