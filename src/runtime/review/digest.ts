import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AlertSink } from '../breaker/alerts.ts';
import type { Clock } from '../clock.ts';
import { conditionally } from '../conditional.ts';
import { boundedPage } from '../watch/watch.ts';
import { type DecisionResult, type ReviewDeps, expireHeld } from './decisions.ts';
import type { HeldOutput, OnExpiry } from './held-outputs.ts';
import type { LinkSigner } from './links.ts';

/**
 * The watch's digest of held outputs, for a person who is asleep: on each run it follows `onExpiry` for what expired,
 * and pages once for everything held since its last digest (not once per output), with an approve and a reject link
 * for each (signed, see `links.ts`), or the CLI commands when the pipeline has no approval page. Overlapping runs
 * page once: the digest's high-water mark moves by a conditional write before the page is sent, and back if the
 * page could not be sent.
 */

export interface DigestOptions {
  readonly review: ReviewDeps;
  /** Each reviewed agent's `onExpiry`. */
  readonly reviews: Readonly<Record<string, { readonly onExpiry: OnExpiry }>>;
  readonly client: DynamoDBDocumentClient;
  /** The coordination table, where the digest keeps its high-water mark. */
  readonly tableName: string;
  readonly clock: Clock;
  readonly alerts: AlertSink;
  /** Names the pipeline in the page's subject. */
  readonly label: string;
  /** The approval page and the key its links are signed with. @default - no links: the page gives the CLI commands */
  readonly links?: { readonly signer: LinkSigner; readonly page: string };
  /** How the CLI commands in the page name the target (`--stage dev`, `--local`). */
  readonly target: string;
  /** The least time between two digests: what is held meanwhile waits for the next. @default 60 minutes */
  readonly everyMs?: number;
}

export interface DigestRun {
  /** Held outputs the page listed (new since the last digest). */
  readonly listed: readonly string[];
  /** What expiry did on this run. */
  readonly expired: readonly DecisionResult[];
  readonly paged: boolean;
}

const STATE_KEY = { pk: 'review#digest', sk: 'state' };

/** The least time between two digest pages, by default: what is held within an hour is paged together. */
export const DIGEST_EVERY_MS = 60 * 60_000;

/** Held outputs one page lists in full; the rest are counted, with the command that lists them. */
export const DIGEST_LISTED_MAX = 15;

export class ReviewDigest {
  constructor(private readonly options: DigestOptions) {}

  async run(): Promise<DigestRun> {
    const { review, reviews, clock } = this.options;
    const now = clock.now();
    const expired = (await Promise.all(Object.entries(reviews).map(([agentId, { onExpiry }]) => expireHeld(review, agentId, onExpiry, now)))).flat();
    const since = await this.lastPagedAt();
    if (since !== undefined && now - since < (this.options.everyMs ?? DIGEST_EVERY_MS)) return { listed: [], expired, paged: false };
    const all = (await Promise.all(Object.keys(reviews).map((agentId) => review.held.list(agentId)))).flat();
    const held = all.filter((o) => o.status === 'held' && o.heldAt > (since ?? -1)).sort((a, b) => a.heldAt - b.heldAt);
    // What expiry decided since the last digest (this run's, and earlier runs' between two digests).
    const lapsed = all.filter((o) => o.decision?.action === 'expire' && o.decision.at > (since ?? -1));
    if (held.length === 0 && lapsed.length === 0) return { listed: [], expired, paged: false };
    const mark = Math.max(now, ...held.map((o) => o.heldAt));
    if (!(await this.moveMark(since, mark))) return { listed: [], expired, paged: false }; // an overlapping run pages it
    try {
      await this.options.alerts.publish(this.page(held, lapsed, now));
    } catch (error) {
      await this.moveMark(mark, since); // the next run pages them
      throw error;
    }
    return { listed: held.map((o) => o.outputId), expired, paged: true };
  }

  private page(held: readonly HeldOutput[], expired: readonly HeldOutput[], now: number): { subject: string; message: string } {
    const { label, links, target } = this.options;
    const subject = `[${label}] ${held.length} output(s) held for review${expired.length ? `, ${expired.length} expired` : ''}`;
    const lines: string[] = [];
    for (const output of held.slice(0, DIGEST_LISTED_MAX)) {
      const json = JSON.stringify(output.payload) ?? 'null';
      lines.push(
        `${output.agentId} ${output.outputId}: held ${ago(now - output.heldAt)} ago; expires ${new Date(output.expiresAt).toISOString()} (then ${output.onExpiry})`,
        `  why: ${output.reasons.join('; ')}`,
        `  ${json.length > 300 ? `${json.slice(0, 299)}…` : json}`,
      );
      if (links) {
        for (const action of ['approve', 'reject'] as const) {
          lines.push(`  ${action}: ${links.signer.link(links.page, { agentId: output.agentId, outputId: output.outputId, action, expiresAt: output.expiresAt })}`);
        }
      } else {
        lines.push(`  npx nightshift approve ${output.outputId} ${target}   |   npx nightshift reject ${output.outputId} ${target} --reason <why>`);
      }
      lines.push('');
    }
    if (held.length > DIGEST_LISTED_MAX) lines.push(`… and ${held.length - DIGEST_LISTED_MAX} more: npx nightshift held ${target}`, '');
    if (expired.length > 0) {
      lines.push('Expired since the last digest:');
      for (const e of expired) lines.push(`  ${e.agentId} ${e.outputId}: ${e.status === 'expired' ? 'discarded' : `${e.status} as onExpiry 'publish' says`} (held ${new Date(e.heldAt).toISOString()})`);
      lines.push('');
    }
    if (links) lines.push('Each link opens a page that shows the output and asks you to confirm; a link works once, until its output expires.');
    return boundedPage(subject, lines.join('\n'));
  }

  private async lastPagedAt(): Promise<number | undefined> {
    const { Item } = await this.options.client.send(new GetCommand({ TableName: this.options.tableName, Key: STATE_KEY, ConsistentRead: true }));
    return typeof Item?.lastPagedAt === 'number' ? Item.lastPagedAt : undefined;
  }

  /** Moves the high-water mark from `from` (undefined: never paged) to `to`, if no other run moved it first. */
  private async moveMark(from: number | undefined, to: number | undefined): Promise<boolean> {
    const result = await conditionally(
      this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: STATE_KEY,
          UpdateExpression: to === undefined ? 'REMOVE lastPagedAt' : 'SET lastPagedAt = :to',
          ConditionExpression: from === undefined ? 'attribute_not_exists(lastPagedAt)' : 'lastPagedAt = :from',
          ExpressionAttributeValues: { ...(to === undefined ? {} : { ':to': to }), ...(from === undefined ? {} : { ':from': from }) },
        }),
      ),
    );
    return result.ok;
  }
}

function ago(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  return minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
}
