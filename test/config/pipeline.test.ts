import { describe, expect, it } from 'vitest';
import reference from '../../nightshift.config.ts';
import { ConfigError, type PipelineInput, definePipeline } from '../../src/config/pipeline.ts';

type AgentInput = PipelineInput['agents'][number];

function agent(id: string, overrides: Partial<AgentInput> = {}): AgentInput {
  return {
    id,
    entry: `lambdas/agents/${id}/handler.ts`,
    schedules: [{ cron: '0 3 * * *' }],
    breaker: { maxOutputs: 5, windowMinutes: 10 },
    ...overrides,
  };
}

function pipeline(agents: AgentInput[], overrides: Partial<PipelineInput> = {}): PipelineInput {
  return { name: 'test', stage: 'dev', agents, breaker: { maxOutputs: 50, windowMinutes: 60 }, ...overrides };
}

function errorOf(input: PipelineInput): ConfigError {
  try {
    definePipeline(input);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

describe('pipeline config', () => {
  it('ships a valid reference pipeline of 5 agents with 12 schedules', () => {
    expect(reference.agents.map((a) => a.id)).toEqual(['planner', 'writer', 'seo', 'community', 'analyst']);
    expect(reference.agents.flatMap((a) => a.schedules)).toHaveLength(12);
  });

  it('fills in defaults', () => {
    const config = definePipeline(pipeline([agent('solo')]));
    expect(config.agents[0]).toMatchObject({
      upstream: [],
      heartbeat: { intervalMinutes: 5, staleAfterMinutes: 15 },
      lock: { leaseMinutes: 30 },
      schedules: [{ cron: '0 3 * * *', timeZone: 'UTC' }],
    });
    expect(config.steward).toEqual({ batchSize: 10, maxReceiveCount: 5, timeoutSeconds: 30 });
    expect(config.alerts).toEqual({ emails: [] });
  });

  it('names the schedule of a bad cron in one line', () => {
    const error = errorOf(pipeline([agent('a'), agent('b', { schedules: [{ cron: '0 25 * * *' }] })]));
    expect(error.message).toBe(
      "Invalid pipeline config: agents[b].schedules[0].cron: hour '25' is out of range 0-23",
    );
    expect(error.message).not.toContain('\n');
  });

  it('rejects an unknown upstream id', () => {
    const error = errorOf(pipeline([agent('a', { upstream: ['ghost'] })]));
    expect(error.message).toBe("Invalid pipeline config: agents[a].upstream[0]: unknown agent id 'ghost'");
  });

  it('rejects a dependency cycle and names it', () => {
    const error = errorOf(
      pipeline([agent('a', { upstream: ['c'] }), agent('b', { upstream: ['a'] }), agent('c', { upstream: ['b'] })]),
    );
    expect(error.message).toBe('Invalid pipeline config: agents[a].upstream: dependency cycle a → c → b → a');
  });

  it('rejects an agent that depends on itself', () => {
    const error = errorOf(pipeline([agent('a', { upstream: ['a'] })]));
    expect(error.message).toBe('Invalid pipeline config: agents[a].upstream[0]: an agent cannot depend on itself');
  });

  it.each([0, -3])('rejects maxOutputs %i', (maxOutputs) => {
    const error = errorOf(pipeline([agent('a', { breaker: { maxOutputs, windowMinutes: 10 } })]));
    expect(error.issues).toEqual([
      { path: 'agents[a].breaker.maxOutputs', message: 'Too small: expected number to be >0' },
    ]);
  });

  it('takes limits of thousands of outputs a window with any duplicate window, and names a limit past what one item can count', () => {
    expect(() =>
      definePipeline(pipeline([agent('a', { breaker: { maxOutputs: 5_000, windowMinutes: 60 }, duplicateWindowMinutes: 30 * 24 * 60 }), agent('b', { breaker: { maxOutputs: 1_000_000, windowMinutes: 24 * 60 } })])),
    ).not.toThrow();
    const error = errorOf(pipeline([agent('b', { breaker: { maxOutputs: 1_000_001, windowMinutes: 60 } })]));
    expect(error.issues).toEqual([{ path: 'agents[b].breaker.maxOutputs', message: expect.stringMatching(/^at most 1,000,000: one counter item/) }]);
  });

  it('rejects a repeated upstream, schedule or namespace, naming the agent', () => {
    const error = errorOf(
      pipeline([
        agent('a', { memory: { writes: ['drafts', 'drafts'] } }),
        agent('b', { upstream: ['a', 'a'], schedules: [{ cron: '0 3 * * *' }, { cron: '0 3 * * *', timeZone: 'UTC' }], memory: { reads: ['drafts', 'drafts'] } }),
      ]),
    );
    expect(error.issues).toEqual([
      { path: 'agents[a].memory.writes[1]', message: "'a' lists namespace 'drafts' twice" },
      { path: 'agents[b].upstream[1]', message: "'b' lists upstream agent 'a' twice" },
      { path: 'agents[b].schedules[1]', message: "'b' lists schedule '0 3 * * * (UTC)' twice" },
      { path: 'agents[b].memory.reads[1]', message: "'b' lists namespace 'drafts' twice" },
    ]);
  });

  it('rejects duplicate agent ids', () => {
    const error = errorOf(pipeline([agent('a'), agent('b'), agent('a')]));
    expect(error.message).toBe("Invalid pipeline config: agents[a].id: duplicate agent id 'a' (agents[0] and agents[2])");
  });

  it('rejects an unknown time zone', () => {
    const error = errorOf(pipeline([agent('a', { schedules: [{ cron: '0 3 * * *', timeZone: 'Mars/Olympus' }] })]));
    expect(error.message).toBe(
      "Invalid pipeline config: agents[a].schedules[0].timeZone: 'Mars/Olympus' is not an IANA time zone",
    );
  });

  it('refuses a pager webhook URL in the config, where it would reach the template, and says where it belongs', () => {
    const error = errorOf(pipeline([agent('a')], { alerts: { pagerWebhookUrl: 'https://pager.example/hook?key=secret' } as never }));
    expect(error.issues).toEqual([{ path: 'alerts.pagerWebhookUrl', message: expect.stringMatching(/store it in an SSM SecureString parameter and name that in pagerWebhookParameter/) }]);
    expect(errorOf(pipeline([agent('a')], { alerts: { pagerWebhookParameter: 'pager-url' } })).issues[0]).toMatchObject({ path: 'alerts.pagerWebhookParameter' });
  });

  it('rejects a lock lease shorter than the function timeout', () => {
    const error = errorOf(pipeline([agent('a', { timeoutSeconds: 900, lock: { leaseMinutes: 5 } })]));
    expect(error.issues[0]?.path).toBe('agents[a].lock.leaseMinutes');
  });

  it('rejects a lease the heartbeat timer cannot renew in time', () => {
    const error = errorOf(
      pipeline([agent('a', { timeoutSeconds: 60, lock: { leaseMinutes: 5 }, heartbeat: { intervalMinutes: 5, staleAfterMinutes: 15 } })]),
    );
    expect(error.message).toBe(
      'Invalid pipeline config: agents[a].lock.leaseMinutes: leaseMinutes must be longer than heartbeat.intervalMinutes, which is how often the lease is renewed',
    );
  });

  it('rejects misspelt fields instead of ignoring them', () => {
    const input = pipeline([{ ...agent('a'), schedule: [] } as AgentInput]);
    expect(errorOf(input).message).toBe("Invalid pipeline config: agents[a]: unknown key 'schedule' (did you mean 'schedules'?)");
  });

  it('suggests the key a misspelt one was meant to be, at any depth', () => {
    const input = pipeline([{ ...agent('a'), heartbeat: { intervalMinute: 5 } } as unknown as AgentInput], { breakr: {} } as never);
    expect(errorOf(input).issues).toEqual([
      { path: 'agents[a].heartbeat', message: "unknown key 'intervalMinute' (did you mean 'intervalMinutes'?)" },
      { path: '(root)', message: "unknown key 'breakr' (did you mean 'breaker'?)" },
    ]);
  });

  it('reports every problem at once', () => {
    const error = errorOf(
      pipeline([agent('Bad Id'), agent('b', { upstream: ['nobody'], schedules: [{ cron: 'nope' }] })]),
    );
    expect(error.issues.map((i) => i.path)).toEqual(['agents[Bad Id].id', 'agents[b].schedules[0].cron', 'agents[b].upstream[0]']);
    // Several problems: one per line under the heading.
    expect(error.message.split('\n')).toEqual([
      'Invalid pipeline config:',
      ...error.issues.map((i) => `  ${i.path}: ${i.message}`),
    ]);
  });

  describe('model', () => {
    it('accepts foundation model and geographic inference profile ids, with a default maxTokens', () => {
      const config = definePipeline(
        pipeline([
          agent('a', { model: { id: 'anthropic.claude-3-5-haiku-20241022-v1:0' } }),
          agent('b', { model: { id: 'eu.anthropic.claude-3-7-sonnet-20250219-v1:0', maxTokens: 4096, destinationRegions: ['eu-west-1'] } }),
          agent('c', { model: { id: 'amazon.nova-lite-v1:0' } }),
        ]),
      );
      expect(config.agents.map((a) => a.model)).toEqual([
        { id: 'anthropic.claude-3-5-haiku-20241022-v1:0', maxTokens: 1024 },
        { id: 'eu.anthropic.claude-3-7-sonnet-20250219-v1:0', maxTokens: 4096, destinationRegions: ['eu-west-1'] },
        { id: 'amazon.nova-lite-v1:0', maxTokens: 1024 },
      ]);
    });

    it.each([
      ['Claude 3.5 Haiku', /is not a Bedrock model id: expected <provider>\.<model>/],
      ['arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2', /not an ARN/],
      ['global.anthropic.claude-sonnet-4-20250514-v1:0', /global inference profiles .* cannot be granted narrowly/],
    ])('rejects the model id %s, saying why', (id, message) => {
      const error = errorOf(pipeline([agent('a', { model: { id } })]));
      expect(error.issues).toEqual([{ path: 'agents[a].model.id', message: expect.stringMatching(message) }]);
    });

    it('rejects a maxTokens no daily budget could ever pay for, and destination regions on a foundation model', () => {
      const error = errorOf(
        pipeline([
          agent('a', { tokenBudgetPerDay: 1_000, model: { id: 'anthropic.claude-3-5-haiku-20241022-v1:0', maxTokens: 1_000 } }),
          agent('b', { model: { id: 'anthropic.claude-3-5-haiku-20241022-v1:0', destinationRegions: ['us-east-1'] } }),
        ]),
      );
      expect(error.issues).toEqual([
        { path: 'agents[a].model.maxTokens', message: 'maxTokens must be below tokenBudgetPerDay, or no call could ever fit the budget' },
        { path: 'agents[b].model.destinationRegions', message: expect.stringMatching(/applies only to an inference profile/) },
      ]);
    });
  });

  describe('memory namespaces', () => {
    it('marks namespaces pinnable only where an agent writes, and pins nowhere by default', () => {
      expect(definePipeline(pipeline([agent('a', { memory: { writes: ['rules'] } })])).pinnable).toEqual([]);
      expect(definePipeline(pipeline([agent('a', { memory: { writes: ['rules'] } })], { pinnable: ['rules'] })).pinnable).toEqual(['rules']);
      expect(errorOf(pipeline([agent('a', { memory: { writes: ['rules'] } })], { pinnable: ['rules', 'drafts'] })).issues).toEqual([
        { path: 'pinnable[1]', message: "namespace 'drafts' is marked pinnable, but no agent writes it (written: rules)" },
      ]);
    });

    it('refuses a memory quota that is not a positive whole number, naming the agent and the field', () => {
      const error = errorOf(pipeline([agent('a', { memory: { writes: ['drafts'], maxUpdatesPerHour: 0 } })]));
      expect(error.issues).toEqual([{ path: 'agents[a].memory.maxUpdatesPerHour', message: 'Too small: expected number to be >0' }]);
    });

    it('defaults to no memory at all, and names a namespace someone reads but nobody writes', () => {
      expect(definePipeline(pipeline([agent('a')])).agents[0]!.memory).toEqual({ reads: [], writes: [], maxUpdatesPerHour: 600 });
      const error = errorOf(
        pipeline([
          agent('a', { memory: { reads: ['notes'], writes: ['drafts'] } }),
          agent('b', { memory: { reads: ['drafts', 'Bad Name'] } }),
        ]),
      );
      expect(error.issues).toEqual([
        { path: 'agents[b].memory.reads[1]', message: expect.stringMatching(/^must be 1-63 lowercase letters/) },
        { path: 'agents[a].memory.reads[0]', message: "'a' reads namespace 'notes', which no agent writes (written: drafts)" },
        { path: 'agents[b].memory.reads[1]', message: "'b' reads namespace 'Bad Name', which no agent writes (written: drafts)" },
      ]);
      expect(errorOf(pipeline([agent('a', { memory: { reads: ['notes'], writes: ['drafts'] } })])).issues).toEqual([
        { path: 'agents[a].memory.reads[0]', message: "'a' reads namespace 'notes', which no agent writes (written: drafts)" },
      ]);
    });

    it('refuses a namespace named like a partition the steward keeps for itself', () => {
      expect(errorOf(pipeline([agent('a', { memory: { writes: ['rejected'] } })])).issues).toEqual([
        { path: 'agents[a].memory.writes[0]', message: expect.stringMatching(/not a reserved name \(rejected\)/) },
      ]);
      // A name that merely starts with it is fine.
      expect(definePipeline(pipeline([agent('a', { memory: { writes: ['rejected-drafts'] } })])).agents[0]!.memory.writes).toEqual(['rejected-drafts']);
    });
  });
});

describe('what an agent is given: secrets, environment, permissions', () => {
  const base = (extra: Record<string, unknown>) => ({
    name: 'p',
    stage: 'dev',
    agents: [{ id: 'poster', entry: 'examples/agents/note-taker.ts', schedules: [{ cron: '0 6 * * *' }], breaker: { maxOutputs: 2, windowMinutes: 60 }, ...extra }],
    breaker: { maxOutputs: 10, windowMinutes: 60 },
  });
  const issues = (extra: Record<string, unknown>) => {
    try {
      definePipeline(base(extra) as never);
      return [];
    } catch (error) {
      return (error as ConfigError).issues;
    }
  };

  it('accepts a secret by SSM parameter or Secrets Manager name, plain variables and exact extra statements', () => {
    const agent = definePipeline(
      base({
        secrets: { token: { parameter: '/p/dev/token', local: 'test' }, apiKey: { secret: 'p/api-key' } },
        environment: { CHANNEL_ID: '42' },
        permissions: [{ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::reports/*'] }],
      }) as never,
    ).agents[0]!;
    expect(Object.keys(agent.secrets)).toEqual(['token', 'apiKey']);
    expect(agent.environment).toEqual({ CHANNEL_ID: '42' });
  });

  it('names each bad secret, variable and statement', () => {
    expect(
      issues({
        secrets: { both: { parameter: '/a', secret: 'b' }, neither: {}, 'bad name!': { parameter: '/c' } },
        environment: { AWS_REGION: 'eu-west-1', NIGHTSHIFT_AGENT_SPEC: '{}', 'not-a-name': 'x' },
        permissions: [{ actions: ['s3:*'], resources: ['arn:aws:s3:::b'] }, { actions: ['s3:GetObject'], resources: ['bucket'] }],
      }).map((i) => i.path),
    ).toEqual(
      expect.arrayContaining([
        'agents[poster].secrets.both',
        'agents[poster].secrets.neither',
        'agents[poster].secrets.bad name!',
        'agents[poster].environment.AWS_REGION',
        'agents[poster].environment.NIGHTSHIFT_AGENT_SPEC',
        'agents[poster].environment.not-a-name',
        'agents[poster].permissions[0].actions',
        'agents[poster].permissions[1].resources[0]',
      ]),
    );
  });
});
