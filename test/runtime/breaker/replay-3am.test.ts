import { describe, expect, it } from 'vitest';
import nightshift from '../../../nightshift.config.ts';
import { agentSpec } from '../../../src/config/agent-spec.ts';
import { type AgentContext, runAgent } from '../../../src/runtime/run-lifecycle.ts';
import { alertsPublished, freshBreaker } from '../../support/breaker.ts';

/**
 * The field report's 3am story, replayed through the real guard and breaker with the reference pipeline's limits:
 * the planner loops on bad retry logic; each plan makes the writer draft another variation, the SEO agent review it,
 * and the community agent post the same Discord message. Without guardrails: 47 variations, 12 identical posts.
 */
describe('3am replay', () => {
  it('publishes at most N community posts, identical posts once, and sends one alert', async () => {
    const { deps, clock, breaker } = await freshBreaker({
      schedules: { 'planner-0': 'ENABLED', 'writer-0': 'ENABLED', 'seo-0': 'ENABLED', 'community-0': 'ENABLED' },
      pipelineMaxOutputs: nightshift.breaker.maxOutputs,
    });
    const spec = (id: string) => agentSpec(nightshift, id);
    const discord: string[] = [];
    const drafts: string[] = [];
    let slot = clock.now();
    const invoke = (agentId: string, work: (ctx: AgentContext) => Promise<unknown>) =>
      runAgent(deps, spec(agentId), { agentId, scheduledTime: new Date((slot += 1000)).toISOString(), scheduleArn: 'local', attemptNumber: 0 }, work);

    const community = () =>
      invoke('community', (ctx) =>
        ctx.emit({ channel: 'discord', text: 'New on the blog: Production patterns for 3am' }, async (o) => void discord.push(o.id)),
      );
    const seo = (draft: string) =>
      invoke('seo', (ctx) => ctx.emit({ review: draft }, async () => void (await community())));
    const writer = (attempt: number) =>
      invoke('writer', (ctx) =>
        ctx.emit({ draft: `variation ${attempt}` }, async (o) => {
          drafts.push(o.id);
          await seo(`variation ${attempt}`);
        }),
      );

    const planner = await invoke('planner', async (ctx) => {
      for (let attempt = 1; attempt <= 47; attempt++) {
        await clock.advance(10_000); // the loop ran for about 8 minutes
        await ctx.emit({ plan: 'production patterns', retry: attempt }, async () => void (await writer(attempt)));
      }
    });

    expect(planner.status).toBe('halted');
    expect(discord.length).toBeLessThanOrEqual(spec('community').breaker.maxOutputs);
    expect(discord).toHaveLength(1); // every post was the same message: published once
    expect(drafts.length).toBeLessThan(47);
    expect(alertsPublished()).toHaveLength(1);
    expect((await breaker.state()).status).toBe('OPEN');
  });
});
