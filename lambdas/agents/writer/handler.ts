import type { AgentContext } from '../../../src/runtime/guard';
import { agentHandler } from '../../shared/agent-handler';

/** The writer (the report's content agent): drafts an article from the current plan, or standalone when degraded. */
export async function work(ctx: AgentContext): Promise<string> {
  const plan = ctx.degraded ? undefined : ((await ctx.memory.get('plans', 'current'))?.value as { topic?: string } | undefined);
  const topic = plan?.topic ?? 'evergreen: what we learned this week';
  const draftKey = `draft-${ctx.invocation.scheduledTime.replace(/[^0-9]/g, '').slice(0, 12)}`;
  const edition = ctx.invocation.scheduledTime.slice(11, 16);
  // Earlier drafts on the same topic, within a budget, instead of every draft ever written.
  const related = await ctx.context({ namespaces: ['drafts'], query: topic, budgetTokens: 300 });
  const draft = {
    title: `Notes on ${topic} (${edition} edition)`,
    words: 900,
    topic,
    standalone: plan === undefined,
    buildsOn: related.entries.filter((e) => e.key !== 'index').map((e) => e.key),
    runId: ctx.runId,
  };
  const index = ((await ctx.memory.get('drafts', 'index'))?.value as string[] | undefined) ?? [];
  // A retried slot (after a crash) may find its draft already indexed: put is idempotent, the append is not.
  await ctx.memory.submit([
    { op: 'put', namespace: 'drafts', key: draftKey, value: draft },
    ...(index.includes(draftKey) ? [] : [{ op: 'append' as const, namespace: 'drafts', key: 'index', value: [draftKey] }]),
  ]);
  await ctx.reportTokens(10_000 + related.tokensLoaded); // prompt and completion, plus the context loaded
  await ctx.emit({ kind: 'draft', key: draftKey, title: draft.title });
  return `drafted ${draftKey}`;
}

export const handler = agentHandler('writer', work);
