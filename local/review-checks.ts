import { type Check, check, notExercised } from './result.ts';
import type { SimulationResult } from './recorder.ts';

/**
 * A rehearsal's checks of held outputs (a pipeline with review policies): nothing held was published before its
 * decision, and every output that ended published was published exactly once, nothing rejected, expired or still
 * waiting at all. `required` when the run decided on purpose (`--approve-after`, `--reject-after`).
 */
export function reviewChecks(r: SimulationResult, required: boolean): Check[] {
  const review = r.review;
  if (!review) return [];
  const held = review.held;
  const publishedAt = new Map<string, number[]>();
  for (const p of r.published) publishedAt.set(p.outputId, [...(publishedAt.get(p.outputId) ?? []), p.at]);
  if (held.length === 0) return [notExercised('held outputs wait for their decision', 'no output was held', required)];
  const early = held.filter((h) => (publishedAt.get(h.outputId) ?? []).some((at) => h.decision === undefined || at < h.decision.at || h.decision.action === 'reject'));
  const decided = held.filter((h) => h.decision);
  const wrongCount = held.filter((h) => (publishedAt.get(h.outputId)?.length ?? 0) !== (h.status === 'published' ? 1 : 0));
  const waiting = held.filter((h) => h.status === 'held').length;
  const statuses = Object.entries(held.reduce<Record<string, number>>((n, h) => ({ ...n, [h.status]: (n[h.status] ?? 0) + 1 }), {}))
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');
  return [
    check(
      'nothing held was published before its decision',
      early.length === 0,
      early.length === 0 ? `${held.length} held (${statuses}); ${decided.length} decided` : `published before a decision to: ${early.map((h) => h.outputId).join(', ')}`,
    ),
    decided.length === 0
      ? notExercised('every approved output was published exactly once', `${waiting} held, none decided${required ? '' : ' (decide in a rehearsal with --approve-after or --reject-after)'}`, required)
      : check(
          'every approved output was published exactly once',
          wrongCount.length === 0,
          wrongCount.length === 0
            ? `${held.filter((h) => h.status === 'published').length} published once each; none of the ${held.length - held.filter((h) => h.status === 'published').length} others published`
            : `published a wrong number of times: ${wrongCount.map((h) => `${h.outputId} (${h.status}, ${publishedAt.get(h.outputId)?.length ?? 0} time(s))`).join(', ')}`,
        ),
  ];
}
