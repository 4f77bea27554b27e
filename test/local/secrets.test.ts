import { describe, expect, inject, it } from 'vitest';
import { runAgentOnce } from '../../local/agent-test.ts';
import { definePipeline } from '../../src/config/pipeline.ts';
import type { AgentContext } from '../../src/runtime/run-lifecycle.ts';

/** `ctx.secret` in local mode and agents' tests: the config's local value or an environment variable, never AWS. */
const pipeline = definePipeline({
  name: 'secretive',
  stage: 'test',
  agents: [
    {
      id: 'poster',
      entry: 'examples/agents/note-taker.ts',
      schedules: [{ cron: '0 6 * * *' }],
      breaker: { maxOutputs: 2, windowMinutes: 60 },
      secrets: { token: { parameter: '/secretive/test/token', local: 'local-token' }, apiKey: { secret: 'secretive/api-key' } },
      environment: { CHANNEL_ID: '42' },
    },
  ],
  breaker: { maxOutputs: 10, windowMinutes: 60 },
});
const run = (work: (ctx: AgentContext) => Promise<unknown>) => runAgentOnce(pipeline, 'poster', work, { dynamoEndpoint: inject('dynamoEndpoint') });

describe('secrets and environment locally', () => {
  it('reads a secret from its local value, one from NIGHTSHIFT_SECRET_<AGENT>_<NAME>, and the agent\'s environment', async () => {
    process.env.NIGHTSHIFT_SECRET_POSTER_APIKEY = 'from-env';
    const result = await run(async (ctx) => [await ctx.secret('token'), await ctx.secret('apiKey'), process.env.CHANNEL_ID]);
    try {
      expect(result.outcome).toMatchObject({ status: 'completed', result: ['local-token', 'from-env', '42'] });
    } finally {
      await result.stop();
      delete process.env.NIGHTSHIFT_SECRET_POSTER_APIKEY;
    }
    expect(process.env.CHANNEL_ID).toBeUndefined();
  });

  it('fails the run naming what to set when a secret has no local value, and refuses a name the config does not give', async () => {
    const missing = await run(async (ctx) => ctx.secret('apiKey')).catch((error: Error) => error);
    expect(String(missing)).toContain("poster's secret 'apiKey' has no local value: set agents[poster].secrets.apiKey.local in the config, or the environment variable NIGHTSHIFT_SECRET_POSTER_APIKEY");
    const unknown = await run(async (ctx) => ctx.secret('password')).catch((error: Error) => error);
    expect(String(unknown)).toContain("poster has no secret 'password' (it has: token, apiKey)");
  });
});
