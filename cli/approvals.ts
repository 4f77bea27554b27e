import { type IncomingMessage, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadAgentModule } from '../local/agent-module.ts';
import { LocalPipeline } from '../local/pipeline.ts';
import { localLinkKey, localReview } from '../local/review.ts';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { ManualClock } from '../src/runtime/clock.ts';
import { approvalPage } from '../src/runtime/review/approval-page.ts';
import { LinkSigner } from '../src/runtime/review/links.ts';
import { saveLocalState } from './invoke.ts';
import { readSnapshot } from './snapshot.ts';

/** The largest form the page accepts: a token and a little more. */
const MAX_BODY_BYTES = 8 * 1024;

/**
 * `nightshift approvals --local`: the approval page the local digest's links point to, on 127.0.0.1, over the last
 * local run's state, at its simulated time (links expire on the simulated clock, as they were signed). Each decision
 * is the deployed one (the same page, the same publishing run through the agent's real handler); the state is saved
 * after each. Prints the page's address and a link pair for every output that waits.
 */
export async function serveApprovals(pipeline: PipelineConfig, stateDir: string, port: number, print: (line: string) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const snapshot = readSnapshot(stateDir);
  const modules = new Map(await Promise.all(pipeline.agents.filter((a) => a.review).map(async (a) => [a.id, await loadAgentModule(a)] as const)));
  const clock = new ManualClock(snapshot.now);
  const local = await LocalPipeline.start({ pipeline, clock, stateDir });
  for (const row of snapshot.schedules) local.schedules.state.set(row.name, row.enabled);
  const deps = { signer: new LinkSigner(localLinkKey(stateDir)), review: localReview(local, modules), clock, label: `${pipeline.name} (${pipeline.stage}, local)` };
  // One request at a time: each decision's publishing run and saved state see the one before.
  let queue = Promise.resolve();
  const server = createServer((request, response) => {
    queue = queue.then(async () => {
      try {
        const url = new URL(request.url ?? '/', 'http://127.0.0.1');
        const token = request.method === 'POST' ? new URLSearchParams(await body(request)).get('t') ?? undefined : (url.searchParams.get('t') ?? undefined);
        const page = await approvalPage(deps, { method: request.method ?? 'GET', token, source: request.socket.remoteAddress ?? 'local' });
        if (request.method === 'POST') await saveLocalState(pipeline, stateDir, local, clock);
        response.writeHead(page.status, page.headers).end(page.body);
      } catch (error) {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`nightshift: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  print(`Approval page: ${url} (on ${stateDir} at ${new Date(clock.now()).toISOString()}; Ctrl-C to stop)`);
  for (const agentId of modules.keys()) {
    for (const output of await deps.review.held.list(agentId)) {
      if (output.status !== 'held' || output.expiresAt <= clock.now()) continue;
      for (const action of ['approve', 'reject'] as const) print(`  ${action} ${output.outputId}: ${deps.signer.link(url, { agentId, outputId: output.outputId, action, expiresAt: output.expiresAt })}`);
    }
  }
  return {
    url,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await queue;
      await local.stop();
    },
  };
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`a form of more than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
