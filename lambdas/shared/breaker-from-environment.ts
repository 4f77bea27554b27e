import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AlertSink } from '../../src/runtime/breaker/alerts';
import { Breaker } from '../../src/runtime/breaker/breaker';
import type { ScheduleSwitch } from '../../src/runtime/breaker/schedules';
import type { Clock } from '../../src/runtime/clock';
import type { MetricsSink } from '../../src/runtime/metrics';
import type { BreakerEnvironment } from './environment';
import { once } from '../../src/runtime/once';

/**
 * The pipeline's breaker, wired to SNS and EventBridge Scheduler as the stack deployed them. Both clients are
 * needed only when the breaker trips, cools down or is reset, so they are imported on first use: an agent's cold
 * start does not load them.
 */
export function breakerFromEnvironment(
  env: BreakerEnvironment,
  client: DynamoDBDocumentClient,
  clock: Clock,
  metrics?: MetricsSink,
): Breaker {
  const spec = env.NIGHTSHIFT_BREAKER_SPEC;
  const sns = once(async () => {
    const [{ SNSClient }, { SnsAlerts }] = await Promise.all([import('@aws-sdk/client-sns'), import('../../src/runtime/breaker/alerts')]);
    return new SnsAlerts({ sns: new SNSClient({}), topicArn: env.ALERT_TOPIC_ARN });
  });
  const scheduler = once(async () => {
    const [{ SchedulerClient }, { EventBridgeSchedules }] = await Promise.all([
      import('@aws-sdk/client-scheduler'),
      import('../../src/runtime/breaker/schedules'),
    ]);
    return new EventBridgeSchedules({ scheduler: new SchedulerClient({}), groupName: env.SCHEDULE_GROUP, scheduleNames: spec.scheduleNames });
  });
  const alerts: AlertSink = { publish: async (alert) => (await sns()).publish(alert) };
  const schedules: ScheduleSwitch = {
    enabled: async () => (await scheduler()).enabled(),
    disable: async (names) => (await scheduler()).disable(names),
    enable: async (names) => (await scheduler()).enable(names),
  };
  return new Breaker({
    client,
    tableName: env.COUNTER_TABLE,
    clock,
    alerts,
    schedules,
    pipelineLabel: `${spec.pipeline} (${spec.stage})`,
    resetCommand: `npx nightshift breaker reset --stage ${spec.stage}`,
    ...(spec.coolDownMinutes === undefined ? {} : { coolDownMinutes: spec.coolDownMinutes }),
    ...(metrics ? { metrics } : {}),
  });
}
