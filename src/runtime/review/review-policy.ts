import type { AgentSpec } from '../../config/agent-spec.ts';
import { NightshiftError, UnknownNameError } from '../../errors.ts';
import type { OutputGuard } from '../breaker/output-guard.ts';

/** Share of the daily token budget past which a reviewed agent's outputs (`when: ['budget']`) are held. */
export const BUDGET_REVIEW_SHARE = 0.8;

/** A reviewed agent emitted with a side effect that cannot run later (a function, not a named publisher). */
export class UnnamedSideEffectError extends NightshiftError {
  override readonly name = 'UnnamedSideEffectError';

  constructor(agentId: string) {
    super(
      `${agentId} has a review policy, so an output may be held and its side effect run when approved, hours later, in ` +
        "another run: a function passed to ctx.emit cannot be. Export it from the agent's module as a named publisher " +
        "(export const publishers = { post: async (output, ctx) => { … } }) and emit with ctx.emit(payload, 'post')",
    );
  }
}

/** The publisher the agent module exports as `name`; throws naming what it does export. */
export function publisherNamed<P>(spec: AgentSpec, publishers: Readonly<Record<string, P>> | undefined, name: string): P {
  const publisher = publishers?.[name];
  if (typeof publisher === 'function') return publisher;
  const known = Object.keys(publishers ?? {});
  throw new UnknownNameError(
    `${spec.id}: ctx.emit names publisher '${name}', which the agent module does not export (its publishers: ${known.join(', ') || 'none'}); add it to \`export const publishers = { ${name}: async (output, ctx) => { … } }\``,
  );
}

/**
 * Why an output of this run is held for review (the agent's `review.when`), in words: empty when it publishes. Each
 * reason is a fact the guard knows of the run: its degraded decision, whether it is the agent's first run after a
 * trip, and the agent's token spend today (read only when `budget` is asked for).
 */
export async function holdReasons(
  when: readonly string[],
  run: { readonly spec: AgentSpec; readonly degraded: { readonly reasons: readonly string[] } | undefined; readonly afterTrip: boolean; readonly outputs: OutputGuard | undefined },
): Promise<string[]> {
  const reasons: string[] = [];
  if (when.includes('always')) reasons.push('always: every output of this agent is reviewed');
  if (when.includes('degraded') && run.degraded) reasons.push(`degraded: ${run.degraded.reasons.join('; ')}`);
  if (when.includes('after-trip') && run.afterTrip) reasons.push("after-trip: the breaker's probe run, or the agent's first run since the breaker was reset");
  const budget = run.spec.tokenBudgetPerDay;
  if (when.includes('budget') && budget !== undefined && run.outputs) {
    const spent = await run.outputs.tokensSpentToday(run.spec.id);
    if (spent >= BUDGET_REVIEW_SHARE * budget) reasons.push(`budget: ${spent} of ${budget} daily tokens spent`);
  }
  return reasons.map((r) => r.slice(0, 500));
}
