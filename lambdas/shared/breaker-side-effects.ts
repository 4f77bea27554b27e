import type { BreakerEnvironment } from '../../src/contract/environment.ts';
import type { AlertSink } from '../../src/runtime/breaker/alerts.ts';
import type { ScheduleSwitch } from '../../src/runtime/breaker/schedules.ts';
import { once } from '../../src/runtime/once.ts';

/**
 * The breaker's side effects as the stack deployed them: alerts to the SNS topic, schedules switched in the
 * pipeline's EventBridge Scheduler group. Both clients are needed only when the breaker trips, cools down or is
 * reset, so they are imported on first use: an agent's cold start does not load them.
 */
export function breakerSideEffects(env: BreakerEnvironment): { alerts: AlertSink; schedules: ScheduleSwitch } {
  const sns = once(async () => {
    const [{ SNSClient }, { SnsAlerts }] = await Promise.all([import('@aws-sdk/client-sns'), import('../../src/runtime/breaker/alerts.ts')]);
    return new SnsAlerts({ sns: new SNSClient({}), topicArn: env.alertTopicArn });
  });
  const scheduler = once(async () => {
    const [{ SchedulerClient }, { EventBridgeSchedules }] = await Promise.all([
      import('@aws-sdk/client-scheduler'),
      import('../../src/runtime/breaker/schedules.ts'),
    ]);
    return new EventBridgeSchedules({ scheduler: new SchedulerClient({}), groupName: env.scheduleGroup, scheduleNames: env.breakerSpec.scheduleNames });
  });
  return {
    alerts: { publish: async (alert) => (await sns()).publish(alert) },
    schedules: {
      enabled: async () => (await scheduler()).enabled(),
      disable: async (names) => (await scheduler()).disable(names),
      enable: async (names) => (await scheduler()).enable(names),
    },
  };
}
