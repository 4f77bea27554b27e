import type { AgentContext } from 'nightshift';
import { draftIndex, plan } from '../shared/memory-shapes.ts';

/**
 * The writer (the report's content agent): drafts an article from the current plan, or standalone when degraded.
 * Its model sees the house rules and the earlier drafts the topic needs, within a budget, not every draft ever
 * written.
 */
export async function work(ctx: AgentContext): Promise<string> {
  const current = ctx.degraded ? undefined : await ctx.memory.read('plans', 'current', plan);
  const topic = current?.topic ?? 'evergreen: what we learned this week';
  const draftKey = `draft-${ctx.invocation.scheduledTime.replace(/[^0-9]/g, '').slice(0, 12)}`;
  const edition = ctx.invocation.scheduledTime.slice(11, 16);
  const context = await ctx.retrieve({ namespaces: ['rules', 'drafts'], query: `${topic} ${current?.angle ?? ''}`, budgetTokens: 1_500 });
  const article = await ctx.model.converse({
    system: 'You write articles for an engineering blog about running AI agents in production.',
    task: `Write the ${edition} edition of an article on '${topic}'.${current?.angle ? ` Angle: ${current.angle}` : ''}`,
    context,
  });
  const draft = {
    title: `Notes on ${topic} (${edition} edition)`,
    topic,
    body: article.text,
    standalone: current === undefined,
    buildsOn: context.entries.filter((e) => e.namespace === 'drafts' && e.key !== 'index').map((e) => e.key),
    runId: ctx.runId,
  };
  const indexed = (await ctx.memory.read('drafts', 'index', draftIndex))?.includes(draftKey) ?? false;
  // A retried slot (after a crash) may find its draft already indexed: put is idempotent, the append is not.
  await ctx.memory.submit([
    { op: 'put', namespace: 'drafts', key: draftKey, value: draft, tags: [topic] },
    ...(indexed ? [] : [{ op: 'append' as const, namespace: 'drafts', key: 'index', value: [draftKey] }]),
  ]);
  await ctx.emit({ kind: 'draft', key: draftKey, title: draft.title });
  return `drafted ${draftKey}`;
}

