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

/** Held outputs one page lists in full; the rest wait for the next digest. */
export const DIGEST_LISTED_MAX = 15;

/** The characters of held outputs one page carries (SNS takes 8 KB, `boundedPage`): the rest wait for the next digest. */
export const DIGEST_CHARACTERS = 6_500;

export class ReviewDigest {
  constructor(private readonly options: DigestOptions) {}

  async run(): Promise<DigestRun> {
    const { review, reviews, clock } = this.options;
    const now = clock.now();
    const expired = (await Promise.all(Object.entries(reviews).map(([agentId, { onExpiry }]) => expireHeld(review, agentId, onExpiry, now)))).flat();
    const since = await this.lastPagedAt();
    if (since !== undefined && now - since < (this.options.everyMs ?? DIGEST_EVERY_MS)) return { listed: [], expired, paged: false };
    const all = (await Promise.all(Object.keys(reviews).map((agentId) => review.held.list(agentId)))).flat();
    // Each output is listed by one digest (marked on its item, so one held while a digest ran, or left out of a full
    // page, waits for the next), and each expiry counted by one.
    const unlisted = all.filter((o) => o.status === 'held' && o.digestedAt === undefined).sort((a, b) => a.heldAt - b.heldAt);
    const lapsed = all.filter((o) => o.decision?.action === 'expire' && o.expiryDigestedAt === undefined);
    if (unlisted.length === 0 && lapsed.length === 0) return { listed: [], expired, paged: false };
    if (!(await this.moveMark(since, now))) return { listed: [], expired, paged: false }; // an overlapping run pages
    const listed: HeldOutput[] = [];
    let size = 0;
    for (const output of unlisted) {
      const entry = this.entry(output, now).length;
      if (listed.length >= DIGEST_LISTED_MAX || size + entry > DIGEST_CHARACTERS) break;
      if (await review.held.markDigested(output.agentId, output.outputId, 'digestedAt')) {
        listed.push(output);
        size += entry;
      }
    }
    const counted: HeldOutput[] = [];
    for (const output of lapsed.slice(0, DIGEST_LISTED_MAX)) if (await review.held.markDigested(output.agentId, output.outputId, 'expiryDigestedAt')) counted.push(output);
    try {
      await this.options.alerts.publish(this.page(listed, unlisted.length - listed.length, counted, lapsed.length - counted.length, now));
    } catch (error) {
      // The next run pages them.
      for (const o of listed) await review.held.markDigested(o.agentId, o.outputId, 'digestedAt', true);
      for (const o of counted) await review.held.markDigested(o.agentId, o.outputId, 'expiryDigestedAt', true);
      await this.moveMark(now, since);
      throw error;
    }
    return { listed: listed.map((o) => o.outputId), expired, paged: true };
  }

  /** One held output's lines in the page. */
  private entry(output: HeldOutput, now: number): string {
    const { links, target } = this.options;
    const json = JSON.stringify(output.payload) ?? 'null';
    const reasons = output.reasons.join('; ');
    const lines = [
      `${output.agentId} ${output.outputId}: held ${ago(now - output.heldAt)} ago; expires ${new Date(output.expiresAt).toISOString()} (then ${output.onExpiry})`,
      `  why: ${reasons.length > 300 ? `${reasons.slice(0, 299)}…` : reasons}`,
      `  ${json.length > 300 ? `${json.slice(0, 299)}…` : json}`,
    ];
    if (links) {
      for (const action of ['approve', 'reject'] as const) {
        lines.push(`  ${action}: ${links.signer.link(links.page, { agentId: output.agentId, outputId: output.outputId, action, expiresAt: output.expiresAt })}`);
      }
    } else {
      lines.push(`  npx nightshift approve ${output.outputId} --agent ${output.agentId} ${target}   |   npx nightshift reject ${output.outputId} --agent ${output.agentId} ${target} --reason <why>`);
    }
    return `${lines.join('\n')}\n\n`;
  }

  private page(held: readonly HeldOutput[], more: number, expired: readonly HeldOutput[], moreExpired: number, now: number): { subject: string; message: string } {
    const { label, links, target } = this.options;
    const subject = `[${label}] ${held.length + more} output(s) held for review${expired.length + moreExpired ? `, ${expired.length + moreExpired} expired` : ''}`;
    let message = held.map((o) => this.entry(o, now)).join('');
    if (more > 0) message += `… and ${more} more, in the next digest; all of them now: npx nightshift held ${target}\n\n`;
    if (expired.length > 0) {
      message += 'Expired since the last digest:\n';
      for (const e of expired) message += `  ${e.agentId} ${e.outputId}: ${e.status === 'expired' ? 'discarded' : `${e.status} as onExpiry 'publish' says`} (held ${new Date(e.heldAt).toISOString()})\n`;
      if (moreExpired > 0) message += `  … and ${moreExpired} more\n`;
      message += '\n';
    }
    if (links) message += 'Each link opens a page that shows the output and asks you to confirm; a link works once, until its output expires.';
    return boundedPage(subject, message);
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
