import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { OUTPUT_DETAIL_TYPE, outputSource } from '../config/trigger-routes.ts';
import { NightshiftError } from '../errors.ts';
import type { SubmittedMemory } from './memory/run-memory.ts';

/** What of a published output its event carries (an `AgentOutput`, which the run context defines). */
export interface PublishedOutput {
  readonly id: string;
  readonly agentId: string;
  readonly runId: string;
  readonly degraded: boolean;
  readonly payload: unknown;
  /** The memory updates its run had queued when it was published, for the runs it triggers to wait for. */
  readonly memory?: SubmittedMemory;
}

/**
 * Where a published output goes for the agents that run on it: after the breaker admitted it and its side effect was
 * released, one event on the pipeline's bus, `source` = `nightshift.agent.<agent>` (IAM lets only that agent's role
 * put it), `detail-type` = `Output published`, the output in `detail`. EventBridge in the cloud; local mode routes
 * the same event on its simulated clock.
 */
export interface OutputEvents {
  publish(output: PublishedOutput): Promise<void>;
}

/** An output's event as PutEvents sends it and a rule delivers it (less the fields EventBridge adds). */
export function outputEvent(output: PublishedOutput): { source: string; detailType: string; detail: Record<string, unknown> } {
  return {
    source: outputSource(output.agentId),
    detailType: OUTPUT_DETAIL_TYPE,
    detail: {
      agentId: output.agentId,
      runId: output.runId,
      outputId: output.id,
      degraded: output.degraded,
      ...(output.memory ? { memory: output.memory } : {}),
      payload: output.payload,
    },
  };
}

/** EventBridge's limit on one entry: an output whose event is larger cannot trigger anyone. */
export const MAX_EVENT_BYTES = 256 * 1024;

export class OutputEventError extends NightshiftError {
  override readonly name = 'OutputEventError';
}

/** Throws {@link OutputEventError} for an output whose event EventBridge would refuse as too large. */
export function checkEventSize(output: PublishedOutput): void {
  const bytes = Buffer.byteLength(JSON.stringify(outputEvent(output).detail));
  if (bytes > MAX_EVENT_BYTES - 1_024) {
    throw new OutputEventError(`${output.id}: the output is ${bytes} bytes as an event; EventBridge takes 256 KB: keep large content in memory and emit its key`);
  }
}

/** PutEvents to the pipeline's bus; the client is made with the first output (not every run publishes). */
export class EventBridgeOutputs implements OutputEvents {
  constructor(private readonly options: { client: () => Promise<EventBridgeClient>; busName: string }) {}

  async publish(output: PublishedOutput): Promise<void> {
    const { source, detailType, detail } = outputEvent(output);
    checkEventSize(output);
    const Detail = JSON.stringify(detail);
    const [{ PutEventsCommand }, client] = await Promise.all([import('@aws-sdk/client-eventbridge'), this.options.client()]);
    const result = await client.send(new PutEventsCommand({ Entries: [{ EventBusName: this.options.busName, Source: source, DetailType: detailType, Detail }] }));
    if ((result.FailedEntryCount ?? 0) > 0) {
      const entry = result.Entries?.[0];
      throw new OutputEventError(`${output.id}: EventBridge refused the output's event (${entry?.ErrorCode ?? 'unknown'}: ${entry?.ErrorMessage ?? ''})`);
    }
  }
}
