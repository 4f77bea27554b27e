import type { AgentContext } from '../../../src/runtime/guard';
import { agentHandler } from '../../shared/agent-handler';

/** The analyst: summarises the day's drafts and posts into a report. */
export async function work(ctx: AgentContext): Promise<string> {
  const drafts = await ctx.memory.query('drafts', { limit: 100 });
  const posts = ((await ctx.memory.get('community', 'posts'))?.value as unknown[] | undefined) ?? [];
  const day = ctx.invocation.scheduledTime.slice(0, 10);
  const report = { day, drafts: drafts.entries.filter((e) => e.key !== 'index').length, posts: posts.length };
  await ctx.memory.put('reports', day, report);
  await ctx.reportTokens(4_000);
  await ctx.emit({ kind: 'report', ...report });
  return `reported ${report.drafts} drafts and ${report.posts} posts`;
}

export const handler = agentHandler('analyst', work);
