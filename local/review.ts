import type { AgentModule } from './agent-module.ts';
import type { LocalPipeline } from './pipeline.ts';
import { HeldOutputs } from '../src/runtime/review/held-outputs.ts';
import type { PublishOutcome, ReviewDeps } from '../src/runtime/review/decisions.ts';
import type { RunOutcome } from '../src/runtime/run-lifecycle.ts';

/**
 * Decisions on held outputs in local mode: the held outputs on the local counter table, the breaker's state, and a
 * held output's publishing run as the agent's real handler runs it (with the module's publishers), at the local
 * clock's time.
 */
export function localReview(local: LocalPipeline, modules: ReadonlyMap<string, AgentModule>): ReviewDeps {
  for (const [agentId, module] of modules) if (module.publishers) local.publishers.set(agentId, module.publishers);
  const clock = local.options.clock;
  return {
    held: new HeldOutputs({ client: local.client, tableName: local.names.counters, clock }),
    breakerState: () => local.breaker.state(),
    publish: async (agentId, outputId) => {
      const module = modules.get(agentId);
      if (!module) return { status: 'failed', detail: `no module loaded for ${agentId}` };
      try {
        const outcome = (await local.handler(agentId, module.work)({ agentId, scheduledTime: new Date(clock.now()).toISOString(), publishHeld: outputId })) as RunOutcome<unknown>;
        return outcomeOf(outcome);
      } catch (error) {
        return { status: 'failed', detail: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}

function outcomeOf(outcome: RunOutcome<unknown>): PublishOutcome {
  if (outcome.status === 'completed') return { status: 'completed', detail: String(outcome.result) };
  if (outcome.status === 'halted') return { status: 'halted', detail: outcome.reason };
  return { status: 'skipped', detail: outcome.detail };
}
