import type { AgentContext } from '../../../src/runtime/guard';
import { agentHandler } from '../../shared/agent-handler';

/**
 * The writer (the report's content agent): drafts an article from the current plan, or standalone when degraded.
 * Its model sees the house rules and the earlier drafts the topic needs, within a budget, not every draft ever
 * written.
 */
export async function work(ctx: AgentContext): Promise<string> {
  const plan = ctx.degraded ? undefined : ((await ctx.memory.get('plans', 'current'))?.value as { topic?: string; angle?: string } | undefined);
  const topic = plan?.topic ?? 'evergreen: what we learned this week';
  const draftKey = `draft-${ctx.invocation.scheduledTime.replace(/[^0-9]/g, '').slice(0, 12)}`;
  const edition = ctx.invocation.scheduledTime.slice(11, 16);
  const context = await ctx.retrieve({ namespaces: ['rules', 'drafts'], query: `${topic} ${plan?.angle ?? ''}`, budgetTokens: 1_500 });
  const article = await ctx.model.converse({
    system: 'You write articles for an engineering blog about running AI agents in production.',
    task: `Write the ${edition} edition of an article on '${topic}'.${plan?.angle ? ` Angle: ${plan.angle}` : ''}`,
    context,
  });
  const draft = {
    title: `Notes on ${topic} (${edition} edition)`,
    topic,
    body: article.text,
    standalone: plan === undefined,
    buildsOn: context.entries.filter((e) => e.namespace === 'drafts' && e.key !== 'index').map((e) => e.key),
    runId: ctx.runId,
  };
  const index = (await ctx.memory.get('drafts', 'index'))?.value;
  const indexed = Array.isArray(index) && index.includes(draftKey);
  // A retried slot (after a crash) may find its draft already indexed: put is idempotent, the append is not.
  await ctx.memory.submit([
    { op: 'put', namespace: 'drafts', key: draftKey, value: draft, tags: [topic] },
    ...(indexed ? [] : [{ op: 'append' as const, namespace: 'drafts', key: 'index', value: [draftKey] }]),
  ]);
  await ctx.emit({ kind: 'draft', key: draftKey, title: draft.title });
  return `drafted ${draftKey}`;
}

export const handler = agentHandler('writer', work);
