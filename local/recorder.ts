import type { PipelineConfig } from '../src/config/pipeline.ts';
import type { Clock } from '../src/runtime/clock.ts';
import type { RunOutcome } from '../src/runtime/run-lifecycle.ts';
import type { LocalPipeline } from './pipeline.ts';
import type { AgentTally, ModelTally, RunRecord, RunTrigger, ScenarioName, SimulationResult, Timeline, TimelineEvent } from './result.ts';

export type { AgentTally, ModelTally, RunRecord, SimulationResult, Timeline, TimelineEvent } from './result.ts';

/** What a local run records: per-agent tallies, the event timeline, 5-minute samples, and the final result. */

const MINUTE = 60_000;

export class RunRecorder {
  private readonly tallies: Record<string, AgentTally> = {};
  private readonly events: TimelineEvent[] = [];
  /** Heartbeats and breaker state as last read; cleared when something ran. */
  private observed: [Awaited<ReturnType<LocalPipeline["heartbeats"]["last"]>>[], Awaited<ReturnType<LocalPipeline["breaker"]["state"]>>] | undefined;
  private readonly outputsThisSample: Record<string, number> = {};
  private readonly timeline: Timeline = { at: [], outputs: {}, heartbeatAgeMinutes: {}, updates: { submitted: [], applied: [] }, breaker: [], contextTokens: { loaded: [], full: [] } };
  private readonly updatesSoFar = { submitted: 0, applied: 0 };
  private readonly contextTokens = { loaded: 0, full: 0 };
  private readonly postsPublished: string[] = [];
  private readonly models: Record<string, ModelTally> = {};
  private readonly runs: RunRecord[] = [];
  private readonly published: { agentId: string; at: number; outputId: string }[] = [];

  constructor(
    private readonly pipeline: PipelineConfig,
    private readonly scenario: ScenarioName,
    private readonly local: LocalPipeline,
    private readonly clock: Clock,
    private readonly start: number,
    private readonly end: number,
    private readonly onProgress?: (line: string) => void,
  ) {
    for (const agent of pipeline.agents) {
      this.tallies[agent.id] = { completed: 0, triggered: 0, failed: 0, skipped: 0, halted: 0, degraded: 0, published: 0, suppressed: 0, held: 0 };
      this.timeline.outputs[agent.id] = [];
      this.timeline.heartbeatAgeMinutes[agent.id] = [];
      this.outputsThisSample[agent.id] = 0;
      this.models[agent.id] = { calls: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, refused: 0, budgetPerDay: agent.tokenBudgetPerDay };
    }
  }

  /** A held output's publishing run: its output counts as published now; the run is no slot's. */
  publishedHeld(agentId: string, outcome: RunOutcome<unknown>): void {
    this.changed();
    if (outcome.status === 'skipped') return;
    for (const output of outcome.outputs.filter((o) => o.published)) {
      this.tallies[agentId]!.published++;
      this.published.push({ agentId, at: this.clock.now(), outputId: output.id });
      this.outputsThisSample[agentId]!++;
      this.event(agentId, 'run', `published held output ${output.id} (approved)`);
    }
  }

  tally(agentId: string, outcome: RunOutcome<unknown>, slot: number, trigger?: RunTrigger): void {
    this.changed();
    const tally = this.tallies[agentId]!;
    const wait = outcome.status === 'completed' ? outcome.memoryWait : undefined;
    this.runs.push({
      agentId,
      at: this.clock.now(),
      slot,
      status: outcome.status,
      degraded: outcome.status === 'completed' && outcome.degraded !== undefined,
      ...(trigger ? { trigger } : {}),
      ...(wait ? { memoryWait: { from: wait.from, awaited: wait.awaited, pending: wait.pending, waitedMs: wait.waitedMs } } : {}),
    });
    if (outcome.status === 'skipped') {
      tally.skipped++;
      this.event(agentId, 'skipped', outcome.reason);
      return;
    }
    for (const output of outcome.outputs) {
      if (output.published) {
        tally.published++;
        this.published.push({ agentId, at: this.clock.now(), outputId: output.id });
        this.outputsThisSample[agentId]!++;
        const payload = output.payload as { channel?: string; text?: string };
        if (payload.channel) this.postsPublished.push(payload.text ?? '');
      } else if (output.held) tally.held++;
      else tally.suppressed++;
    }
    const usage = outcome.modelUsage;
    if (usage) {
      const model = this.models[agentId]!;
      model.calls += usage.calls;
      model.inputTokens += usage.inputTokens;
      model.outputTokens += usage.outputTokens;
      model.cacheReadTokens += usage.cacheReadTokens;
      model.cacheWriteTokens += usage.cacheWriteTokens;
    }
    if (outcome.status === 'halted') {
      if (/refused before it was sent/.test(outcome.reason)) this.models[agentId]!.refused++;
      tally.halted++;
      this.event(agentId, 'halted', outcome.reason);
      return;
    }
    tally.completed++;
    if (trigger) tally.triggered++;
    this.contextTokens.loaded += outcome.contextTokens.loaded;
    this.contextTokens.full += outcome.contextTokens.full;
    if (outcome.degraded) {
      tally.degraded++;
      this.event(agentId, 'degraded', outcome.degraded.reasons.join('; '));
    } else {
      const published = outcome.outputs.filter((o) => o.published).length;
      const held = outcome.outputs.filter((o) => o.held).length;
      const suppressed = outcome.outputs.length - published - held;
      const rest = `${suppressed ? `, ${suppressed} suppressed as duplicate${suppressed > 1 ? 's' : ''}` : ''}${held ? `, ${held} held for review` : ''}`;
      this.event(agentId, 'run', `completed: ${published} published${rest}`);
    }
  }

  /** A run that crashed or threw: it has no outcome. */
  failed(agentId: string, slot: number, status: 'crash' | 'fail', detail: string, trigger?: RunTrigger, published: readonly string[] = []): void {
    this.changed();
    this.runs.push({ agentId, at: this.clock.now(), slot, status, degraded: false, reason: detail, ...(trigger ? { trigger } : {}) });
    this.tallies[agentId]!.failed++;
    // A crashed run's work had finished: what it published before it died was published, and runs what it triggers.
    for (const outputId of published) {
      this.tallies[agentId]!.published++;
      this.published.push({ agentId, at: this.clock.now(), outputId });
      this.outputsThisSample[agentId]!++;
    }
    this.event(agentId, status, detail);
  }

  event(agentId: string | undefined, kind: TimelineEvent['kind'], detail: string): void {
    this.events.push({ at: this.clock.now(), ...(agentId ? { agentId } : {}), kind, detail });
  }

  /** Says heartbeats or the breaker may have moved (a run, a cool-down): the next sample reads them again. */
  changed(): void {
    this.observed = undefined;
  }

  async sample(t: number): Promise<void> {
    this.timeline.at.push(t);
    // Heartbeats and the breaker change only when something runs: between runs the last reading stands.
    this.observed ??= await Promise.all([Promise.all(this.pipeline.agents.map((a) => this.local.heartbeats.last(a.id))), this.local.breaker.state()]);
    const [beats, breaker] = this.observed;
    for (const [i, agent] of this.pipeline.agents.entries()) {
      this.timeline.outputs[agent.id]!.push(this.outputsThisSample[agent.id]!);
      this.outputsThisSample[agent.id] = 0;
      const beat = beats[i];
      // Ages are measured at the later of the sample and the clock (runs within the minute may have moved it on);
      // a beat is never younger than zero.
      const now = Math.max(t, this.clock.now());
      this.timeline.heartbeatAgeMinutes[agent.id]!.push(beat ? Math.max(0, Math.round((now - beat.beatAt) / MINUTE)) : null);
    }
    const submitted = this.local.sqs.queue(this.local.memoryQueue).sentCount;
    const applied = this.local.metrics.get('UpdatesApplied');
    this.timeline.updates.submitted.push(submitted - this.updatesSoFar.submitted);
    this.timeline.updates.applied.push(applied - this.updatesSoFar.applied);
    Object.assign(this.updatesSoFar, { submitted, applied });
    this.timeline.breaker.push(breaker.status);
    this.timeline.contextTokens.loaded.push(this.contextTokens.loaded);
    this.timeline.contextTokens.full.push(this.contextTokens.full);
  }

  /**
   * An hourly progress line. While the breaker stays open and nothing happens, the hours pass quietly: one line
   * says so, and the next line comes when something changes.
   */
  async progress(t: number): Promise<void> {
    const totals = Object.values(this.tallies);
    const sum = (k: keyof AgentTally) => totals.reduce((s, a) => s + a[k], 0);
    const state = (await this.local.breaker.state()).status;
    const counts = `runs ${sum('completed')}  outputs ${sum('published')}  degraded ${sum('degraded')}  halted ${sum('halted')}  alerts ${this.local.alerts.alerts.length}  breaker ${state}`;
    const unchanged = counts === this.lastProgress;
    this.lastProgress = counts;
    if (unchanged && state === 'OPEN') {
      if (!this.quiet) this.onProgress?.('  (breaker OPEN: nothing runs until `nightshift breaker reset --local`; quiet until something changes)');
      this.quiet = true;
      return;
    }
    this.quiet = false;
    this.onProgress?.(`[${new Date(t).toISOString().slice(0, 16).replace('T', ' ')}Z] ${counts}`);
  }

  private lastProgress: string | undefined;
  private quiet = false;

  async result(slotCount: number, faults: readonly string[], resumed: boolean): Promise<SimulationResult> {
    for (const alert of this.local.alerts.alerts) this.events.push({ at: alert.at, kind: 'alert', detail: alert.subject });
    this.events.sort((a, b) => a.at - b.at);
    const totals: AgentTally = { completed: 0, triggered: 0, failed: 0, skipped: 0, halted: 0, degraded: 0, published: 0, suppressed: 0, held: 0 };
    for (const tally of Object.values(this.tallies)) for (const k of Object.keys(totals) as (keyof AgentTally)[]) totals[k] += tally[k];
    const depths = await this.local.queueDepths();
    const m = this.local.metrics;
    const index = ((await this.local.reader.get('drafts', 'index'))?.value as string[] | undefined) ?? [];
    return {
      scenario: this.scenario,
      resumed,
      faults,
      start: this.start,
      end: this.end,
      usage: this.local.usage.toJSON(),
      metrics: Object.fromEntries(this.local.metrics.counts),
      agents: this.tallies,
      limits: Object.fromEntries(this.pipeline.agents.map((a) => [a.id, a.breaker.maxOutputs])),
      windowMinutes: Object.fromEntries(this.pipeline.agents.map((a) => [a.id, a.breaker.windowMinutes])),
      staleAfterMinutes: Object.fromEntries(this.pipeline.agents.map((a) => [a.id, a.heartbeat.staleAfterMinutes])),
      totals: { ...totals, slots: slotCount },
      alerts: this.local.alerts.alerts,
      pages: this.local.pages.alerts.map(({ subject, at }) => ({ subject, at })),
      breaker: (await this.local.breaker.state()).status,
      memory: {
        submitted: this.local.sqs.queue(this.local.memoryQueue).sentCount,
        ...this.local.ledger.totals(),
        deadLetters: depths.deadLetters,
        queued: depths.queue + depths.inFlight,
      },
      takeovers: m.get('LockTakeovers'),
      modelProvider: this.local.model.name,
      contextTokens: { ...this.contextTokens },
      models: this.models,
      duplicatePostsPublished: this.postsPublished.length - new Set(this.postsPublished).size,
      draftIndexDuplicates: index.length - new Set(index).size,
      events: this.events,
      runs: this.runs,
      published: this.published,
      schedules: Object.fromEntries(this.local.schedules.state),
      timeline: this.timeline,
      checks: [],
      passed: false,
    };
  }
}

