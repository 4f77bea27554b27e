import { BatchGetCommand, type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditionally } from '../conditional.ts';

/**
 * Incidents on the coordination table (`pk = incident#<key>`): one item per thing that can page, opened and resolved
 * with conditional writes, so however many watch runs overlap, exactly one of them makes each transition and pages
 * for it.
 */
export interface Incident {
  readonly key: string;
  readonly status: 'open' | 'resolved';
  readonly openedAt: number;
  readonly resolvedAt?: number;
  readonly subject: string;
}

export const INCIDENT_PK_PREFIX = 'incident#';

const keyOf = (key: string) => ({ pk: `${INCIDENT_PK_PREFIX}${key}`, sk: 'incident' });

export class IncidentStore {
  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string }) {}

  /** The incidents with these keys as they stand (one BatchGetItem per 100 keys). */
  async get(keys: readonly string[]): Promise<Map<string, Incident>> {
    const found = new Map<string, Incident>();
    for (let i = 0; i < keys.length; i += 100) {
      const chunk = keys.slice(i, i + 100);
      let request: Record<string, { Keys: Record<string, unknown>[] }> | undefined = { [this.options.tableName]: { Keys: chunk.map(keyOf) } };
      while (request && Object.keys(request).length > 0) {
        const { Responses = {}, UnprocessedKeys } = await this.options.client.send(new BatchGetCommand({ RequestItems: request }));
        for (const item of Responses[this.options.tableName] ?? []) {
          const key = String(item.pk).slice(INCIDENT_PK_PREFIX.length);
          found.set(key, { key, status: item.status, openedAt: item.openedAt, resolvedAt: item.resolvedAt, subject: item.subject } as Incident);
        }
        request = UnprocessedKeys as typeof request;
      }
    }
    return found;
  }

  /** Opens the incident unless it is open already; true for the one caller that opened it. */
  open(key: string, subject: string, now: number): Promise<boolean> {
    return this.transition(key, 'SET #status = :open, openedAt = :now, subject = :subject REMOVE resolvedAt', 'attribute_not_exists(#status) OR #status = :resolved', {
      ':now': now,
      ':subject': subject,
    });
  }

  /** Resolves the incident opened at `openedAt`; true for the one caller that resolved it. */
  resolve(key: string, openedAt: number, now: number): Promise<boolean> {
    return this.transition(key, 'SET #status = :resolved, resolvedAt = :now', '#status = :open AND openedAt = :openedAt', { ':now': now, ':openedAt': openedAt });
  }

  /** One conditional write moving an incident: true for the one caller whose condition held. */
  private async transition(key: string, update: string, condition: string, values: Record<string, unknown>): Promise<boolean> {
    const result = await conditionally(
      this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: keyOf(key),
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':open': 'open', ':resolved': 'resolved', ...values },
        }),
      ),
    );
    return result.ok;
  }
}
