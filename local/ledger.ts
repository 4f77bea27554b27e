import type { StewardResult } from '../src/runtime/memory/steward.ts';

/**
 * The memory ledger by message, not by delivery: SQS may deliver a message several times (a steward that died after
 * applying it, a visibility timeout), and each message must be counted once. A message is applied if any delivery
 * applied it; otherwise a duplicate (its idempotency id or sequence was applied before) or rejected, by its first
 * outcome. Deliveries beyond the first of each message are counted apart, as redeliveries.
 */
export class MessageLedger {
  private readonly outcomes = new Map<string, StewardResult['outcome'][]>();
  private deliveries = 0;

  record(messageId: string, outcome: StewardResult['outcome']): void {
    this.deliveries++;
    const seen = this.outcomes.get(messageId);
    if (seen) seen.push(outcome);
    else this.outcomes.set(messageId, [outcome]);
  }

  totals(): { applied: number; duplicates: number; rejected: number; redeliveries: number } {
    let applied = 0;
    let duplicates = 0;
    let rejected = 0;
    for (const outcomes of this.outcomes.values()) {
      if (outcomes.includes('applied')) applied++;
      else if (outcomes[0] === 'duplicate') duplicates++;
      else rejected++;
    }
    return { applied, duplicates, rejected, redeliveries: this.deliveries - this.outcomes.size };
  }
}
