import type { AgentWork } from '../lambdas/shared/agent-handler.ts';
import { importUserModule } from '../src/config/user-module.ts';
import { UsageError } from '../src/errors.ts';
import type { Publishers } from '../src/runtime/run-context.ts';

/** What an agent's module exports: its `work`, and the named side effects of its outputs (`publishers`). */
export interface AgentModule {
  readonly work: AgentWork<unknown>;
  readonly publishers?: Publishers;
}

/** Loads an agent's module as local mode runs it; names the agent and what its module is missing. */
export async function loadAgentModule(agent: { readonly id: string; readonly entry: string }): Promise<AgentModule> {
  const module = await importUserModule(agent.entry);
  if (typeof module.work !== 'function') throw new UsageError(`agent '${agent.id}': ${agent.entry} must export its work function as \`work\``);
  const publishers = module.publishers;
  if (publishers === undefined) return { work: module.work as AgentWork<unknown> };
  const bad = typeof publishers !== 'object' || publishers === null ? ['(not an object)'] : Object.entries(publishers).filter(([, p]) => typeof p !== 'function').map(([name]) => name);
  if (bad.length > 0) throw new UsageError(`agent '${agent.id}': ${agent.entry} exports publishers that are not functions: ${bad.join(', ')}; each is async (output, ctx) => { … }`);
  return { work: module.work as AgentWork<unknown>, publishers: publishers as Publishers };
}
