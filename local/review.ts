import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentModule } from './agent-module.ts';
import { ReviewDigest } from '../src/runtime/review/digest.ts';
import { LinkSigner } from '../src/runtime/review/links.ts';
import type { LocalPipeline } from './pipeline.ts';
import { HeldOutputs } from '../src/runtime/review/held-outputs.ts';
import type { PublishOutcome, ReviewDeps } from '../src/runtime/review/decisions.ts';
import type { RunOutcome } from '../src/runtime/run-lifecycle.ts';

/**
 * Decisions on held outputs in local mode: the held outputs on the local counter table, the breaker's state, and a
 * held output's publishing run as the agent's real handler runs it (with the module's publishers), at the local
 * clock's time.
 */
export function localReview(local: LocalPipeline, modules: ReadonlyMap<string, AgentModule>, onOutcome?: (agentId: string, outcome: RunOutcome<unknown>) => void): ReviewDeps {
  for (const [agentId, module] of modules) if (module.publishers) local.publishers.set(agentId, module.publishers);
  const clock = local.options.clock;
  return {
    held: new HeldOutputs({ client: local.client, tableName: local.names.counters, clock }),
    breakerState: () => local.breaker.state(),
    publish: async (agentId, outputId) => {
      // A publishing run runs the agent's publisher, never its work.
      const work = modules.get(agentId)?.work ?? notRun;
      try {
        const outcome = (await local.handler(agentId, work)({ agentId, scheduledTime: new Date(clock.now()).toISOString(), publishHeld: outputId })) as RunOutcome<unknown>;
        onOutcome?.(agentId, outcome);
        return outcomeOf(outcome);
      } catch (error) {
        return { status: 'failed', detail: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}

async function notRun(): Promise<never> {
  throw new Error('a publishing run does not run the work');
}

function outcomeOf(outcome: RunOutcome<unknown>): PublishOutcome {
  if (outcome.status === 'completed') return { status: 'completed', detail: String(outcome.result) };
  if (outcome.status === 'halted') return { status: 'halted', detail: outcome.reason };
  return { status: 'skipped', detail: outcome.detail };
}

/** Where a local run's approval page is served (`nightshift approvals --local`) and its digest's links point. */
export function localApprovalPage(): string {
  const port = Number(process.env.NIGHTSHIFT_APPROVALS_PORT ?? DEFAULT_APPROVALS_PORT);
  return `http://127.0.0.1:${port}/`;
}

export const DEFAULT_APPROVALS_PORT = 8787;

/**
 * The key a local run's links are signed with: `approval.key` in its state directory (made on first use, readable
 * by its owner only), or one for this process when the run keeps no state.
 */
export function localLinkKey(stateDir: string | undefined): string {
  if (!stateDir) return (processKey ??= LinkSigner.newKey());
  const file = join(stateDir, 'approval.key');
  if (!existsSync(file)) {
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(file, LinkSigner.newKey(), { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}

let processKey: string | undefined;

/** The watch's digest of held outputs in local mode: pages to the local pages log, links to the local page. */
export function localDigest(local: LocalPipeline, onOutcome?: (agentId: string, outcome: RunOutcome<unknown>) => void): ReviewDigest | undefined {
  const { pipeline, stateDir, clock } = local.options;
  const reviews = Object.fromEntries(pipeline.agents.flatMap((a) => (a.review ? [[a.id, { onExpiry: a.review.onExpiry }]] : [])));
  if (Object.keys(reviews).length === 0) return undefined;
  return new ReviewDigest({
    review: localReview(local, new Map(), onOutcome),
    reviews,
    client: local.client,
    tableName: local.names.coordination,
    clock,
    alerts: local.pages,
    label: `${pipeline.name} (${pipeline.stage}, local)`,
    links: { signer: new LinkSigner(localLinkKey(stateDir)), page: localApprovalPage() },
    target: '--local',
  });
}
