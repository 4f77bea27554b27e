import type { AgentContext } from '../../../src/runtime/guard';
import { agentHandler } from '../../shared/agent-handler';

/**
 * The community agent (the report's Discord poster): announces the latest draft. The announcement is the output
 * whose side effect, the post itself, the breaker releases only when it is within limits and not a duplicate. The
 * post's text is the draft's title, so a looping upstream produces identical posts the duplicate guard catches;
 * the model only writes the teaser kept with the post.
 */
export async function work(ctx: AgentContext): Promise<string> {
  const index = (await ctx.memory.get('drafts', 'index'))?.value;
  const latest = Array.isArray(index) ? (index.at(-1) as string | undefined) : undefined;
  const draft = latest ? ((await ctx.memory.get('drafts', latest))?.value as { title?: string } | undefined) : undefined;
  const text = draft?.title ? `New on the blog: ${draft.title}` : 'Nothing new today: see you tomorrow';
  const result = await ctx.emit({ channel: 'discord', text }, async (output) => {
    const teaser = await ctx.model.converse({ system: 'You write one-line teasers for a Discord channel.', task: `Tease: ${text}`, maxTokens: 60 });
    await ctx.memory.append('community', 'posts', { text, teaser: teaser.text, outputId: output.id, degraded: output.degraded });
  });
  return result.published ? `posted '${text}'` : `suppressed a duplicate of '${text}'`;
}

export const handler = agentHandler('community', work);
