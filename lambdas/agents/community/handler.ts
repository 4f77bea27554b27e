import type { AgentContext } from '../../../src/runtime/guard';
import { agentHandler } from '../../shared/agent-handler';

/**
 * The community agent (the report's Discord poster): announces the latest draft. The announcement is the output
 * whose side effect, the post itself, the breaker releases only when it is within limits and not a duplicate.
 */
export async function work(ctx: AgentContext): Promise<string> {
  const index = ((await ctx.memory.get('drafts', 'index'))?.value as string[] | undefined) ?? [];
  const latest = index.at(-1);
  const draft = latest ? ((await ctx.memory.get('drafts', latest))?.value as { title?: string } | undefined) : undefined;
  const text = draft?.title ? `New on the blog: ${draft.title}` : 'Nothing new today: see you tomorrow';
  const result = await ctx.emit({ channel: 'discord', text }, async (output) => {
    await ctx.memory.append('community', 'posts', { text, outputId: output.id, degraded: output.degraded });
  });
  await ctx.reportTokens(500);
  return result.published ? `posted '${text}'` : `suppressed a duplicate of '${text}'`;
}

export const handler = agentHandler('community', work);
