import { appendFileSync } from 'node:fs';
import type { Alert, AlertSink } from '../src/runtime/breaker/alerts.ts';
import type { ScheduleSwitch } from '../src/runtime/breaker/schedules.ts';
import type { AwsCall } from '../src/runtime/aws-calls.ts';
import type { Clock } from '../src/runtime/clock.ts';
import type { ModelProvider } from '../src/runtime/model/model.ts';

/**
 * Local stand-ins for the services local mode does not run: SNS (alerts are recorded), EventBridge Scheduler
 * (schedules are flags) and Bedrock (the offline provider). Each stand-in can declare, per function, the AWS calls
 * its cloud counterpart makes (`SnsAlerts`, `EventBridgeSchedules`, `BedrockProvider`), so local mode's call record
 * covers them too.
 */

/** Records what SNS would have sent. */
export class RecordedAlerts implements AlertSink {
  readonly alerts: (Alert & { at: number })[] = [];
  constructor(
    private readonly clock: Clock,
    private readonly file?: string,
    private readonly print: (line: string) => void = () => undefined,
  ) {}

  async publish(alert: Alert): Promise<void> {
    const at = this.clock.now();
    this.alerts.push({ ...alert, at });
    if (this.file) appendFileSync(this.file, `--- ${new Date(at).toISOString()} ${alert.subject}\n${alert.message}\n\n`);
    this.print(`ALERT ${alert.subject}`);
  }
}

/** The pipeline's schedules as enabled/disabled flags. */
export class LocalSchedules implements ScheduleSwitch {
  readonly state = new Map<string, boolean>();
  constructor(names: readonly string[]) {
    for (const name of names) this.state.set(name, true);
  }
  async enabled(): Promise<string[]> {
    return [...this.state].filter(([, on]) => on).map(([name]) => name);
  }
  async disable(names: readonly string[]): Promise<void> {
    for (const name of names) this.state.set(name, false);
  }
  async enable(names: readonly string[]): Promise<void> {
    for (const name of names) this.state.set(name, true);
  }
  isEnabled(name: string): boolean {
    return this.state.get(name) ?? false;
  }
}

/** The local resource names the declared calls use for what the stack deploys once per pipeline. */
export const LOCAL_ALERT_TOPIC = 'topic/alerts';
export const LOCAL_SCHEDULE_ROLE = 'role/schedule';

/**
 * The stand-ins as one function sees them: each call also declares what the cloud counterpart would call. An alert
 * is an SNS Publish to the KMS-encrypted topic; reading a schedule's state is a GetSchedule; switching one is a
 * GetSchedule, an UpdateSchedule and passing the schedule role back to Scheduler.
 */
export function declaringCalls(
  parts: {
    alerts: AlertSink;
    schedules: ScheduleSwitch;
    model: ModelProvider;
    scheduleGroup: string;
    scheduleNames: readonly string[];
    /** Whether the topic has a key of its own, whose use the publisher is granted; SNS's AWS managed key needs none. @default true */
    topicKeyOfItsOwn?: boolean;
    /** The agent whose own application inference profile its model calls go through, as deployed. @default - none */
    modelProfileOf?: string;
  },
  record: (call: AwsCall) => void,
): { alerts: AlertSink; schedules: ScheduleSwitch; model: ModelProvider } {
  const schedule = (name: string) => `schedule/${parts.scheduleGroup}/${name}`;
  const switching = (names: readonly string[]) => {
    for (const name of names) {
      record({ service: 'scheduler', action: 'GetSchedule', resource: schedule(name) });
      record({ service: 'scheduler', action: 'UpdateSchedule', resource: schedule(name) });
    }
    if (names.length) record({ service: 'iam', action: 'PassRole', resource: LOCAL_SCHEDULE_ROLE });
  };
  return {
    alerts: {
      publish: async (alert) => {
        record({ service: 'sns', action: 'Publish', resource: LOCAL_ALERT_TOPIC });
        // Publishing to a topic encrypted with a customer managed key: SNS uses both on the publisher's behalf.
        if (parts.topicKeyOfItsOwn ?? true) {
          record({ service: 'kms', action: 'GenerateDataKey', resource: `${LOCAL_ALERT_TOPIC}/key` });
          record({ service: 'kms', action: 'Decrypt', resource: `${LOCAL_ALERT_TOPIC}/key` });
        }
        return parts.alerts.publish(alert);
      },
    },
    schedules: {
      enabled: async () => {
        for (const name of parts.scheduleNames) record({ service: 'scheduler', action: 'GetSchedule', resource: schedule(name) });
        return parts.schedules.enabled();
      },
      disable: async (names) => {
        switching(names);
        return parts.schedules.disable(names);
      },
      enable: async (names) => {
        switching(names);
        return parts.schedules.enable(names);
      },
    },
    model: {
      name: parts.model.name,
      converse: async (request) => {
        const through = parts.modelProfileOf === undefined ? 'model' : `model-profile/${parts.modelProfileOf}`;
        record({ service: 'bedrock', action: 'InvokeModel', resource: `${through}/${request.modelId}` });
        return parts.model.converse(request);
      },
    },
  };
}
