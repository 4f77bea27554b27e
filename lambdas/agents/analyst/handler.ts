import type { AgentContext } from 'nightshift';
import { posts } from '../shared/memory-shapes.ts';

/** The analyst: has its model summarise the day's drafts and posts into a report. */
export async function work(ctx: AgentContext): Promise<string> {
  const day = ctx.invocation.scheduledTime.slice(0, 10);
  const drafts = await ctx.memory.query('drafts', { limit: 100 });
  const posted = await ctx.memory.read('community', 'posts', posts);
  // The model sees the day's most relevant memory within a budget, not all of it.
  const context = await ctx.retrieve({ namespaces: ['drafts', 'community', 'plans'], query: `${day} seo score posts drafts`, budgetTokens: 1_200 });
  const summary = await ctx.model.converse({
    system: 'You summarise a day of a content pipeline for its owners, in three sentences.',
    task: `Summarise ${day}.`,
    context,
    maxTokens: 300,
  });
  const report = { day, drafts: drafts.entries.filter((e) => e.key !== 'index').length, posts: posted?.length ?? 0, summary: summary.text };
  await ctx.memory.put('reports', day, report, { tags: ['report'] });
  await ctx.emit({ kind: 'report', day, drafts: report.drafts, posts: report.posts });
  return `reported ${report.drafts} drafts and ${report.posts} posts`;
}

