/**
 * A record of the AWS API calls a function made: service, IAM action and the resource by its local name (`table/<name>`,
 * `table/<name>/index/<index>`, `queue/<name>`, `schedule/<group>/<name>`, `topic/<label>`, `model/<id>`), plus the
 * partition keys of DynamoDB reads (what a `dynamodb:LeadingKeys` condition checks). Local mode records every call
 * its functions make, so a test can hold each one against the policy the stack attaches to that function.
 */
export interface AwsCall {
  /** IAM service prefix: `dynamodb`, `sqs`, `scheduler`, `sns`, `bedrock`, `iam`. */
  readonly service: string;
  /** IAM action name, e.g. `UpdateItem`. */
  readonly action: string;
  readonly resource: string;
  /** Partition key values of a DynamoDB read or write, when the call names them. */
  readonly leadingKeys?: readonly string[];
  /** Condition keys the request carries (`events:source` of a PutEvents). */
  readonly context?: Readonly<Record<string, string>>;
}

/** Every call made, by the function that made it. */
export class CallLog {
  private readonly calls = new Map<string, Map<string, AwsCall>>();

  record(functionName: string, call: AwsCall): void {
    let calls = this.calls.get(functionName);
    if (!calls) this.calls.set(functionName, (calls = new Map()));
    calls.set(JSON.stringify([call.service, call.action, call.resource, call.leadingKeys ?? [], call.context ?? {}]), call);
  }

  /** The distinct calls each function made. */
  byFunction(): ReadonlyMap<string, readonly AwsCall[]> {
    return new Map([...this.calls].map(([fn, calls]) => [fn, [...calls.values()]]));
  }
}

interface MiddlewareClient {
  readonly middlewareStack: {
    add(middleware: (next: (args: { input: object }) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => (args: { input: object }) => Promise<unknown>, options: { step: 'initialize'; name: string }): void;
  };
}

const SERVICES: Record<string, string> = { DynamoDBClient: 'dynamodb', SQSClient: 'sqs', SchedulerClient: 'scheduler', SNSClient: 'sns', BedrockRuntimeClient: 'bedrock' };

/** Adds a middleware to an AWS SDK v3 client that tells `onCall` each call it makes, described as IAM sees it. */
export function recordCalls<C>(client: C, onCall: (call: AwsCall) => void): C {
  (client as unknown as MiddlewareClient).middlewareStack.add(
    (next, context) => async (args) => {
      const service = SERVICES[context.clientName ?? ''] ?? context.clientName ?? 'unknown';
      for (const call of describeCall(service, (context.commandName ?? '').replace(/Command$/, ''), args.input as Record<string, unknown>)) onCall(call);
      return next(args);
    },
    { step: 'initialize', name: 'nightshiftCallRecorder' },
  );
  return client;
}

function describeCall(service: string, action: string, input: Record<string, unknown>): AwsCall[] {
  // IAM authorizes SQS's batch actions as their single forms (SendMessageBatch is sqs:SendMessage).
  if (service === 'sqs') return [{ service, action: action.replace(/Batch$/, ''), resource: `queue/${String(input.QueueUrl).split('/').pop()}` }];
  if (service !== 'dynamodb') return [{ service, action, resource: String(input.Name ?? input.TopicArn ?? input.modelId ?? '*') }];
  if (action === 'TransactWriteItems') {
    return (input.TransactItems as Record<string, Record<string, unknown>>[]).flatMap((item) => {
      const [kind, body] = Object.entries(item)[0]!;
      const itemAction = kind === 'ConditionCheck' ? 'ConditionCheckItem' : `${kind}Item`;
      return describeCall(service, itemAction, body);
    });
  }
  if (action === 'BatchGetItem') {
    return Object.entries(input.RequestItems as Record<string, { Keys: Record<string, unknown>[] }>).map(([table, { Keys }]) => ({
      service,
      action,
      resource: `table/${table}`,
      leadingKeys: [...new Set(Keys.map((key) => stringOf(key.pk)))],
    }));
  }
  const resource = `table/${String(input.TableName)}${input.IndexName ? `/index/${String(input.IndexName)}` : ''}`;
  const keys = leadingKeys(input);
  return [{ service, action, resource, ...(keys ? { leadingKeys: keys } : {}) }];
}

/** The partition key a call names: its `Key` or `Item`, or the value its key condition compares the hash key with. */
function leadingKeys(input: Record<string, unknown>): string[] | undefined {
  const item = (input.Key ?? input.Item) as Record<string, unknown> | undefined;
  if (item && 'pk' in item) return [stringOf(item.pk)];
  const condition = typeof input.KeyConditionExpression === 'string' ? /^\s*#?(\w+)\s*=\s*(:\w+)/.exec(input.KeyConditionExpression) : null;
  const values = input.ExpressionAttributeValues as Record<string, unknown> | undefined;
  if (condition && values?.[condition[2]!] !== undefined) return [stringOf(values[condition[2]!])];
  return undefined;
}

/** A string attribute, marshalled (`{ S: 'x' }`) or not. */
function stringOf(value: unknown): string {
  return typeof value === 'object' && value !== null && 'S' in value ? String((value as { S: unknown }).S) : String(value);
}
