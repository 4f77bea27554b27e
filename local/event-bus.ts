import { randomUUID } from 'node:crypto';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { matchesTrigger } from '../src/config/trigger-routes.ts';
import type { CallLog } from '../src/runtime/aws-calls.ts';
import type { Clock } from '../src/runtime/clock.ts';
import { type OutputEvents, outputEvent } from '../src/runtime/output-events.ts';

/** An event as an EventBridge rule delivers it to a Lambda target. */
export interface BusEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
}

/** The local stand-in for the pipeline's bus: what was put, on the simulated clock, and who it must run. */
export const LOCAL_EVENT_BUS = 'event-bus/pipeline';

/**
 * EventBridge on this machine: events put on the pipeline's bus (an agent's published output, or an outside event)
 * or the default bus are matched against every agent's triggers, as the stack's rules match them, and wait here
 * until the runner delivers them (`take`). Each put is recorded as the putter's `events:PutEvents`, with the source
 * and detail type IAM's conditions see, so the tests hold it against the stack's grants.
 */
export class LocalEventBus {
  private pending: { agentId: string; event: BusEvent }[] = [];
  /** Every event put, in order. */
  readonly put: BusEvent[] = [];

  constructor(
    private readonly pipeline: PipelineConfig,
    private readonly clock: Clock,
    private readonly calls?: CallLog,
  ) {}

  /** Puts one event; returns it with the agents it will run. */
  send(entry: { source: string; detailType: string; detail: unknown; bus?: 'pipeline' | 'default' }, by?: string): { event: BusEvent; agents: string[] } {
    const bus = entry.bus ?? 'pipeline';
    if (by) {
      this.calls?.record(by, { service: 'events', action: 'PutEvents', resource: bus === 'pipeline' ? LOCAL_EVENT_BUS : 'event-bus/default', context: { 'events:source': entry.source, 'events:detail-type': entry.detailType } });
    }
    const event: BusEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.detailType,
      source: entry.source,
      account: '000000000000',
      time: new Date(this.clock.now()).toISOString(),
      region: 'local',
      resources: [],
      detail: entry.detail,
    };
    this.put.push(event);
    const agents = this.pipeline.agents
      .filter((a) => a.triggers.some((t) => matchesTrigger(t, { source: entry.source, detailType: entry.detailType, bus })))
      .map((a) => a.id);
    for (const agentId of agents) this.pending.push({ agentId, event });
    return { event, agents };
  }

  /** Deliveries waiting, oldest first; taking them empties the queue. */
  take(): { agentId: string; event: BusEvent }[] {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }

  /** How an agent's published outputs reach the bus: as its function's PutEvents. */
  outputsOf(functionName: string): OutputEvents {
    return {
      publish: async (output) => {
        this.send(outputEvent(output), functionName);
      },
    };
  }
}
