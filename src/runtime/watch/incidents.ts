import { BatchGetCommand, type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditionally } from '../conditional.ts';

/**
 * Incidents on the coordination table (`pk = incident#<key>`): one item per thing that can page, opened and resolved
 * with conditional writes, so however many watch runs overlap, exactly one of them makes each transition. Each
 * transition leaves its page pending on the item (`page`: subject and message, bounded) until a publish succeeded:
 * the run that made the transition claims it, and if its publish fails, a later run claims it again once the claim
 * has lapsed. An incident is marked paged only after its page went out.
 */
export interface Incident {
  readonly key: string;
  readonly status: 'open' | 'resolved';
  readonly openedAt: number;
  readonly resolvedAt?: number;
  readonly subject: string;
  /** The page of the last transition, while it has not gone out. */
  readonly pending?: PendingPage;
}

export interface PendingPage {
  readonly subject: string;
  readonly message: string;
  /** When a watch run last claimed it (a claim older than {@link PAGE_CLAIM_MS} has lapsed). */
  readonly claimedAt?: number;
}

/** How long a claimed page is left to its claimant before another run sends it: longer than a publish's retries. */
export const PAGE_CLAIM_MS = 2 * 60_000;

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
          const pending = item.pageSubject === undefined ? undefined : { subject: item.pageSubject, message: item.pageMessage, ...(item.pageClaimedAt === undefined ? {} : { claimedAt: item.pageClaimedAt }) };
          found.set(key, { key, status: item.status, openedAt: item.openedAt, resolvedAt: item.resolvedAt, subject: item.subject, ...(pending ? { pending } : {}) } as Incident);
        }
        request = UnprocessedKeys as typeof request;
      }
    }
    return found;
  }

  /**
   * Opens the incident unless it is open already, its page (if it pages) pending and claimed; true for the one caller
   * that opened it.
   */
  open(key: string, subject: string, page: { subject: string; message: string } | undefined, now: number): Promise<boolean> {
    return this.transition(
      key,
      page
        ? 'SET #status = :open, openedAt = :now, subject = :subject, pageSubject = :pageSubject, pageMessage = :pageMessage, pageClaimedAt = :now REMOVE resolvedAt'
        : 'SET #status = :open, openedAt = :now, subject = :subject REMOVE resolvedAt, pageSubject, pageMessage, pageClaimedAt',
      'attribute_not_exists(#status) OR #status = :resolved',
      { ':now': now, ':subject': subject, ...(page ? { ':pageSubject': page.subject, ':pageMessage': page.message } : {}) },
    );
  }

  /** Resolves the incident opened at `openedAt`, its page pending and claimed; true for the one caller that resolved it. */
  resolve(key: string, openedAt: number, page: { subject: string; message: string }, now: number): Promise<boolean> {
    return this.transition(
      key,
      'SET #status = :resolved, resolvedAt = :now, pageSubject = :pageSubject, pageMessage = :pageMessage, pageClaimedAt = :now',
      '#status = :open AND openedAt = :openedAt',
      { ':now': now, ':openedAt': openedAt, ':pageSubject': page.subject, ':pageMessage': page.message },
    );
  }

  /** Claims a pending page whose claim lapsed (its claimant's publish failed or it died); true for the one claimant. */
  claimPage(incident: Incident, now: number): Promise<boolean> {
    return this.transition(
      incident.key,
      'SET pageClaimedAt = :now',
      '#status = :status AND openedAt = :openedAt AND pageSubject = :pageSubject AND (attribute_not_exists(pageClaimedAt) OR pageClaimedAt <= :lapsed)',
      { ':now': now, ':status': incident.status, ':openedAt': incident.openedAt, ':pageSubject': incident.pending?.subject ?? '', ':lapsed': now - PAGE_CLAIM_MS },
    );
  }

  /** The page went out: nothing pending any more (unless the incident moved on meanwhile). */
  async paged(key: string, transition: { status: Incident['status']; openedAt: number }, now: number): Promise<void> {
    await this.transition(key, 'SET pagedAt = :now REMOVE pageSubject, pageMessage, pageClaimedAt', '#status = :status AND openedAt = :openedAt', {
      ':now': now,
      ':status': transition.status,
      ':openedAt': transition.openedAt,
    });
  }

  /** The publish failed: the claim is given up so the next run sends the page without waiting for it to lapse. */
  async unclaim(key: string, transition: { status: Incident['status']; openedAt: number }): Promise<void> {
    await this.transition(key, 'REMOVE pageClaimedAt', '#status = :status AND openedAt = :openedAt', { ':status': transition.status, ':openedAt': transition.openedAt });
  }

  /** One conditional write moving an incident: true for the one caller whose condition held. */
  private async transition(key: string, update: string, condition: string, values: Record<string, unknown>): Promise<boolean> {
    const expressions = `${update} ${condition}`;
    // DynamoDB refuses a value the expressions do not use.
    const used = Object.fromEntries(Object.entries({ ':open': 'open', ':resolved': 'resolved', ...values }).filter(([name]) => new RegExp(`${name}\\b`).test(expressions)));
    const result = await conditionally(
      this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: keyOf(key),
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: used,
        }),
      ),
    );
    return result.ok;
  }
}
