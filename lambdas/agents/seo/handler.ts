import type { AgentContext } from '../../../src/runtime/guard';
import { agentHandler } from '../../shared/agent-handler';

/** The SEO agent: scores the latest draft and merges its review into the draft. */
export async function work(ctx: AgentContext): Promise<string> {
  const index = ((await ctx.memory.get('drafts', 'index'))?.value as string[] | undefined) ?? [];
  const latest = index.at(-1);
  if (!latest) return 'no draft to review';
  await ctx.memory.merge('drafts', latest, { seo: { score: 70 + (latest.length % 30), reviewedBy: ctx.runId } });
  await ctx.reportTokens(3_000);
  await ctx.emit({ kind: 'seo-review', key: latest });
  return `reviewed ${latest}`;
}

export const handler = agentHandler('seo', work);
