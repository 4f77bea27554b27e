import { describe, expect, it } from 'vitest';
import { ConfigError, type PipelineInput, definePipeline } from '../../src/config/pipeline.ts';
import { agentSpec } from '../../src/config/agent-spec.ts';
import { watchSpec } from '../../src/config/watch-plan.ts';

const entry = 'examples/agents/note-taker.ts';
const breaker = { maxOutputs: 5, windowMinutes: 60 };
const daily = [{ cron: '0 6 * * *' }];

const pipeline = (agents: PipelineInput['agents']) => definePipeline({ name: 'chain', stage: 'test', agents, breaker: { maxOutputs: 20, windowMinutes: 60 } });
const problems = (agents: PipelineInput['agents']) => {
  try {
    pipeline(agents);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`);
    throw error;
  }
  return [];
};

describe('triggers in the config', () => {
  it('accepts an agent with triggers and no schedule, and tells the upstream it publishes to the bus', () => {
    const config = pipeline([
      { id: 'scout', entry, breaker, schedules: daily },
      { id: 'editor', entry, breaker, triggers: [{ outputsOf: 'scout' }] },
      { id: 'desk', entry, breaker, triggers: [{ event: { source: ['tickets'], detailType: ['Ticket opened'] } }] },
    ]);
    expect(config.agents[1]!.schedules).toEqual([]);
    expect(config.agents[2]!.triggers).toEqual([{ event: { source: ['tickets'], detailType: ['Ticket opened'], bus: 'pipeline', maxPerHour: 60 } }]);
    expect(agentSpec(config, 'scout').publishOutputs).toBe(true);
    expect(agentSpec(config, 'editor').publishOutputs).toBeUndefined();
    expect(agentSpec(config, 'editor').triggers).toEqual([{ outputsOf: 'scout', maxPerHour: 5, waitForMemorySeconds: 120 }]); // the scout's own limit, 5 an hour
    // A triggered-only agent has no cadence to miss: the watch never pages it as silent.
    expect(watchSpec(config).agents.find((a) => a.id === 'editor')).toEqual({ id: 'editor' });
    expect(watchSpec(config).agents.find((a) => a.id === 'scout')?.silentAfterMs).toBeGreaterThan(0);
  });

  it('names every bad trigger by agent and path', () => {
    expect(
      problems([
        { id: 'scout', entry, breaker, schedules: daily, triggers: [{ outputsOf: 'scout' }] },
        { id: 'editor', entry, breaker, triggers: [{ outputsOf: 'nobody' }, { outputsOf: 'scout' }, { outputsOf: 'scout' }] },
        { id: 'idle', entry, breaker },
        { id: 'spoof', entry, breaker, triggers: [{ event: { source: ['nightshift.agent.scout'] } }] },
        { id: 'empty', entry, breaker, triggers: [{ event: { source: [] } }] },
      ]),
    ).toEqual([
      "agents[spoof].triggers[0].event.source[0]: sources starting with 'nightshift.' are Nightshift's own: trigger on an agent's outputs with { outputsOf: '<agent>' }",
      'agents[empty].triggers[0].event.source: name at least one source',
      "agents[scout].triggers[0].outputsOf: 'scout' cannot run on its own outputs: each run would trigger the next",
      "agents[editor].triggers[0].outputsOf: unknown agent id 'nobody' (agents: scout, editor, idle, spoof, empty)",
      "agents[editor].triggers[2]: 'editor' lists this trigger twice",
      "agents[idle].schedules: 'idle' has neither schedules nor triggers: nothing would ever run it",
    ]);
  });

  it('refuses a cycle through triggers, naming it in trigger order', () => {
    expect(
      problems([
        { id: 'a', entry, breaker, schedules: daily },
        { id: 'b', entry, breaker, triggers: [{ outputsOf: 'a' }, { outputsOf: 'c' }] },
        { id: 'c', entry, breaker, triggers: [{ outputsOf: 'b' }] },
      ]),
    ).toEqual(['agents[c].triggers: trigger cycle b → c → b: each output would run the next agent for ever']);
  });
});
