import type { PipelineConfig } from '../src/config/pipeline.ts';
import { NotConfiguredError } from '../src/errors.ts';

/**
 * The agents' `environment` for local mode, where every agent runs in this one process: set on `process.env` for
 * the run (as each function's own would be in Lambda), restored afterwards. Two agents giving one variable different
 * values cannot share a process: refused, naming both.
 */
export function applyAgentEnvironment(pipeline: PipelineConfig): () => void {
  const wanted = new Map<string, { value: string; agentId: string }>();
  for (const agent of pipeline.agents) {
    for (const [name, value] of Object.entries(agent.environment)) {
      const other = wanted.get(name);
      if (other && other.value !== value) {
        throw new NotConfiguredError(`local mode runs every agent in one process: ${other.agentId} and ${agent.id} give ${name} different values; give one of them another variable name`);
      }
      wanted.set(name, { value, agentId: agent.id });
    }
  }
  for (const [name, { value, agentId }] of wanted) {
    const held = HELD.get(name);
    if (held && held.value !== value) {
      throw new NotConfiguredError(`another local pipeline in this process sets ${name} to a different value than ${agentId} does; run them one after the other`);
    }
  }
  for (const [name, { value }] of wanted) {
    const held = HELD.get(name);
    HELD.set(name, held ? { ...held, users: held.users + 1 } : { value, previous: process.env[name], users: 1 });
    process.env[name] = value;
  }
  return () => {
    for (const name of wanted.keys()) {
      const held = HELD.get(name)!;
      if (held.users > 1) {
        HELD.set(name, { ...held, users: held.users - 1 });
        continue;
      }
      HELD.delete(name);
      if (held.previous === undefined) delete process.env[name];
      else process.env[name] = held.previous;
    }
  };
}

/** Variables local pipelines running in this process have set: the value, what was there before, how many use it. */
const HELD = new Map<string, { value: string; previous: string | undefined; users: number }>();
