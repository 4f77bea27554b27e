import type { AgentContext } from 'nightshift';
import { draft, draftIndex } from '../shared/memory-shapes.ts';

/**
 * The community agent (the report's Discord poster): announces the latest draft. The announcement is the output
 * whose side effect, the post itself, the breaker releases only when it is within limits and not a duplicate. The
 * post's text is the draft's title, so a looping upstream produces identical posts the duplicate guard catches;
 * the model only writes the teaser kept with the post.
 */
export async function work(ctx: AgentContext): Promise<string> {
  const latest = (await ctx.memory.read('drafts', 'index', draftIndex))?.at(-1);
  const current = latest ? await ctx.memory.read('drafts', latest, draft) : undefined;
  const text = current?.title ? `New on the blog: ${current.title}` : 'Nothing new today: see you tomorrow';
  const result = await ctx.emit({ channel: 'discord', text }, async (output) => {
    const teaser = await ctx.model.converse({ system: 'You write one-line teasers for a Discord channel.', task: `Tease: ${text}`, maxTokens: 60 });
    // What a post needs, as the config gives it: the bot token (a secret, read at run time) and the channel (plain
    // environment). The reference pipeline keeps the post in memory; the README shows the fetch a real bot makes.
    const token = await ctx.secret('discordToken');
    const channel = process.env.DISCORD_CHANNEL_ID ?? 'unset';
    await ctx.memory.append('community', 'posts', { text, teaser: teaser.text, outputId: output.id, degraded: output.degraded, channel, authorized: token.length > 0 });
  });
  return result.published ? `posted '${text}'` : `suppressed a duplicate of '${text}'`;
}

