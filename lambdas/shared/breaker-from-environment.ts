import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SnsAlerts } from '../../src/runtime/breaker/alerts';
import { Breaker } from '../../src/runtime/breaker/breaker';
import { EventBridgeSchedules } from '../../src/runtime/breaker/schedules';
import type { Clock } from '../../src/runtime/clock';
import type { MetricsSink } from '../../src/runtime/metrics';
import type { BreakerEnvironment } from './environment';

/** The pipeline's breaker, wired to SNS and EventBridge Scheduler as the stack deployed them. */
export function breakerFromEnvironment(
  env: BreakerEnvironment,
  client: DynamoDBDocumentClient,
  clock: Clock,
  metrics?: MetricsSink,
): Breaker {
  const spec = env.NIGHTSHIFT_BREAKER_SPEC;
  return new Breaker({
    client,
    tableName: env.COUNTER_TABLE,
    clock,
    alerts: new SnsAlerts({ sns: new SNSClient({}), topicArn: env.ALERT_TOPIC_ARN }),
    schedules: new EventBridgeSchedules({
      scheduler: new SchedulerClient({}),
      groupName: env.SCHEDULE_GROUP,
      scheduleNames: spec.scheduleNames,
    }),
    pipelineLabel: `${spec.pipeline} (${spec.stage})`,
    resetCommand: `npx nightshift breaker reset --stage ${spec.stage}`,
    ...(spec.coolDownMinutes === undefined ? {} : { coolDownMinutes: spec.coolDownMinutes }),
    ...(metrics ? { metrics } : {}),
  });
}
