import {
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';

/** Switches the pipeline's schedules off (hard halt) and back on (reset). */
export interface ScheduleSwitch {
  /** Names of the pipeline's schedules that are enabled now. */
  enabled(): Promise<string[]>;
  disable(names: readonly string[]): Promise<void>;
  enable(names: readonly string[]): Promise<void>;
}

/**
 * The pipeline's EventBridge Scheduler schedules, by name. `UpdateSchedule` replaces the whole schedule, so each
 * change reads the schedule first and sends every field back with only `State` changed.
 */
export class EventBridgeSchedules implements ScheduleSwitch {
  constructor(private readonly options: { scheduler: SchedulerClient; groupName: string; scheduleNames: readonly string[] }) {}

  async enabled(): Promise<string[]> {
    const states = await Promise.all(this.options.scheduleNames.map(async (name) => [name, (await this.get(name)).State] as const));
    return states.filter(([, state]) => state === 'ENABLED').map(([name]) => name);
  }

  disable(names: readonly string[]): Promise<void> {
    return this.setState(names, 'DISABLED');
  }

  enable(names: readonly string[]): Promise<void> {
    return this.setState(names, 'ENABLED');
  }

  private get(name: string): Promise<GetScheduleCommandOutput> {
    return this.options.scheduler.send(new GetScheduleCommand({ Name: name, GroupName: this.options.groupName }));
  }

  private async setState(names: readonly string[], state: 'ENABLED' | 'DISABLED'): Promise<void> {
    for (const name of names) {
      const current = await this.get(name);
      if (current.State === state) continue;
      await this.options.scheduler.send(
        new UpdateScheduleCommand({
          Name: name,
          GroupName: this.options.groupName,
          ScheduleExpression: current.ScheduleExpression,
          ScheduleExpressionTimezone: current.ScheduleExpressionTimezone,
          StartDate: current.StartDate,
          EndDate: current.EndDate,
          Description: current.Description,
          FlexibleTimeWindow: current.FlexibleTimeWindow,
          Target: current.Target,
          KmsKeyArn: current.KmsKeyArn,
          ActionAfterCompletion: current.ActionAfterCompletion,
          State: state,
        }),
      );
    }
  }
}
