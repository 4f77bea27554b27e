import type { AgentContext } from '../../../src/runtime/guard';
import { agentHandler } from '../../shared/agent-handler';

/** The analyst: summarises the day's drafts and posts into a report. */
export async function work(ctx: AgentContext): Promise<string> {
  const day = ctx.invocation.scheduledTime.slice(0, 10);
  const drafts = await ctx.memory.query('drafts', { limit: 100 });
  const posts = ((await ctx.memory.get('community', 'posts'))?.value as unknown[] | undefined) ?? [];
  // The model sees the day's most relevant memory within a budget, not all of it.
  const context = await ctx.context({ namespaces: ['drafts', 'community', 'plans'], query: `${day} seo score posts`, budgetTokens: 600 });
  const report = { day, drafts: drafts.entries.filter((e) => e.key !== 'index').length, posts: posts.length };
  await ctx.memory.put('reports', day, report);
  await ctx.reportTokens(2_000 + context.tokensLoaded);
  await ctx.emit({ kind: 'report', ...report });
  return `reported ${report.drafts} drafts and ${report.posts} posts`;
}

export const handler = agentHandler('analyst', work);
