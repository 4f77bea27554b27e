import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * What a local run used of the services that bill per request, measured where the calls are made: DynamoDB
 * request units (as DynamoDB Local reports them for each request), SQS requests by action, steward and breaker
 * function invocations.
 * `nightshift cost` scales a simulated day of these to a month.
 */
export class UsageMeter {
  readonly dynamo = { readUnits: 0, writeUnits: 0, reads: 0, writes: 0 };
  readonly sqs = new Map<string, number>();
  stewardInvocations = 0;
  /** Requests agents made of the breaker function (one per output counted, plus trips and probes). */
  breakerInvocations = 0;
  /** The watch function's share of `dynamo` (local mode runs it only when something changed; the cloud, always). */
  readonly watch = { readUnits: 0, writeUnits: 0 };

  /** Counts every request `client` sends, asking DynamoDB for the capacity each consumed. */
  meter(client: { middlewareStack: DynamoDBDocumentClient["middlewareStack"] }, share?: { readUnits: number; writeUnits: number }): void {
    const middleware = ((next: (args: { input: Record<string, unknown> }) => Promise<{ output: { ConsumedCapacity?: unknown } }>, context: { commandName?: string }) =>
      async (args: { input: Record<string, unknown> }) => {
        args.input.ReturnConsumedCapacity ??= 'TOTAL';
        const result = await next(args);
        const read = /^(Get|BatchGet|Query|Scan)/.test(context.commandName ?? '');
        const units = [result.output.ConsumedCapacity ?? []].flat().reduce((sum: number, c) => sum + ((c as { CapacityUnits?: number }).CapacityUnits ?? 0), 0);
        if (read) {
          this.dynamo.reads++;
          this.dynamo.readUnits += units;
          if (share) share.readUnits += units;
        } else {
          this.dynamo.writes++;
          this.dynamo.writeUnits += units;
          if (share) share.writeUnits += units;
        }
        return result;
      }) as never;
    client.middlewareStack.add(middleware, { step: 'initialize', name: 'nightshiftUsageMeter', override: true });
  }

  countSqs(action: string): void {
    this.sqs.set(action, (this.sqs.get(action) ?? 0) + 1);
  }

  toJSON() {
    return { dynamo: this.dynamo, sqs: Object.fromEntries(this.sqs), stewardInvocations: this.stewardInvocations, breakerInvocations: this.breakerInvocations, watch: this.watch };
  }
}
