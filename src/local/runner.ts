import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Cron } from 'croner';
import { scheduleName } from '../config/agent-spec';
import type { PipelineConfig } from '../config/pipeline';
import type { BreakerStatus } from '../runtime/breaker/breaker';
import { type Clock, ManualClock } from '../runtime/clock';
import type { AgentContext, RunOutcome } from '../runtime/guard';
import { LocalPipeline } from './pipeline';
import { type Check, SCENARIOS, type ScenarioControl, type ScenarioName } from './scenarios';

/**
 * Runs the pipeline locally on an accelerated clock: fires each agent at its cron times (croner, with time zones),
 * feeds the steward from the queue every simulated minute, and records what happened for the summary and report.
 */

type Work = (ctx: AgentContext) => Promise<unknown>;

export interface AgentTally {
  completed: number;
  skipped: number;
  halted: number;
  degraded: number;
  published: number;
  suppressed: number;
}

export interface TimelineEvent {
  readonly at: number;
  readonly agentId?: string;
  readonly kind: 'run' | 'degraded' | 'skipped' | 'halted' | 'crash' | 'alert' | 'redelivery';
  readonly detail: string;
}

export interface Timeline {
  /** Sample times (epoch ms), every 5 simulated minutes. */
  readonly at: number[];
  readonly outputs: Record<string, number[]>;
  readonly heartbeatAgeMinutes: Record<string, (number | null)[]>;
  readonly queueDepth: number[];
  readonly breaker: BreakerStatus[];
}

export interface SimulationResult {
  readonly scenario: ScenarioName;
  readonly start: number;
  readonly end: number;
  readonly agents: Record<string, AgentTally>;
  /** Each agent's breaker limit N and window M. */
  readonly limits: Record<string, number>;
  readonly windowMinutes: Record<string, number>;
  readonly totals: AgentTally & { slots: number };
  readonly alerts: readonly { subject: string; message: string; at: number }[];
  readonly breaker: BreakerStatus;
  readonly memory: { submitted: number; applied: number; duplicates: number; rejected: number; deadLetters: number; queued: number };
  readonly takeovers: number;
  readonly duplicatePostsPublished: number;
  readonly draftIndexDuplicates: number;
  readonly events: readonly TimelineEvent[];
  readonly timeline: Timeline;
  checks: Check[];
  passed: boolean;
}

export interface SimulationOptions {
  readonly pipeline: PipelineConfig;
  readonly scenario: ScenarioName;
  readonly hours: number;
  /** @default 2026-11-25T00:00:00Z (a Wednesday) */
  readonly start?: Date;
  readonly stateDir?: string;
  readonly dynamoEndpoint?: string;
  readonly tablePrefix?: string;
  readonly print?: (line: string) => void;
  readonly progress?: (line: string) => void;
}

const MINUTE = 60_000;

interface Slot {
  readonly at: number;
  readonly agentId: string;
  readonly schedule: string;
}

export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const start = (options.start ?? new Date('2026-11-25T00:00:00Z')).getTime();
  const end = start + options.hours * 60 * MINUTE;
  const clock = new ManualClock(start);
  const local = await LocalPipeline.start({
    pipeline: options.pipeline,
    clock,
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
    ...(options.dynamoEndpoint ? { dynamoEndpoint: options.dynamoEndpoint } : {}),
    ...(options.tablePrefix ? { tablePrefix: options.tablePrefix } : {}),
    ...(options.print ? { print: options.print } : {}),
  });
  try {
    return await new Simulation(options, local, clock, start, end).run();
  } finally {
    await local.stop();
  }
}

class Simulation implements ScenarioControl {
  private readonly works = new Map<string, Work>();
  private readonly overrides = new Map<string, { work: Work; crash: boolean }>();
  private readonly redeliveries: { agentId: string; slot: number; at: number }[] = [];
  private readonly extraRuns: { agentId: string; at: number; work: Work }[] = [];
  private readonly tallies: Record<string, AgentTally> = {};
  private readonly events: TimelineEvent[] = [];
  private readonly outputsThisSample: Record<string, number> = {};
  private readonly timeline: Timeline = { at: [], outputs: {}, heartbeatAgeMinutes: {}, queueDepth: [], breaker: [] };
  private readonly postsPublished: string[] = [];
  private offSchedule = 0;

  constructor(
    private readonly options: SimulationOptions,
    private readonly local: LocalPipeline,
    private readonly clock: ManualClock,
    private readonly start: number,
    private readonly end: number,
  ) {
    for (const agent of options.pipeline.agents) {
      this.tallies[agent.id] = { completed: 0, skipped: 0, halted: 0, degraded: 0, published: 0, suppressed: 0 };
      this.timeline.outputs[agent.id] = [];
      this.timeline.heartbeatAgeMinutes[agent.id] = [];
      this.outputsThisSample[agent.id] = 0;
    }
  }

  async run(): Promise<SimulationResult> {
    for (const agent of this.options.pipeline.agents) {
      const module = (await import(pathToFileURL(resolve(agent.entry)).href)) as { work?: Work };
      if (typeof module.work !== 'function') throw new Error(`${agent.entry} must export its work function as \`work\` for local mode`);
      this.works.set(agent.id, module.work);
    }
    const scenario = SCENARIOS[this.options.scenario];
    scenario.setup(this);
    const slots = this.slots();
    let next = 0;
    for (let t = this.start; t <= this.end; t += MINUTE) {
      if (t > this.clock.now()) await this.clock.advanceTo(t);
      while (next < slots.length && slots[next]!.at <= t) {
        const slot = slots[next++]!;
        if (this.local.schedules.isEnabled(slot.schedule)) await this.fire(slot.agentId, slot.at, 0);
      }
      for (const extra of this.extraRuns.filter((r) => r.at <= t)) {
        this.extraRuns.splice(this.extraRuns.indexOf(extra), 1);
        await this.fire(extra.agentId, extra.at, 0, extra.work);
      }
      for (const r of this.redeliveries.filter((r) => r.at <= t)) {
        this.redeliveries.splice(this.redeliveries.indexOf(r), 1);
        this.event(r.agentId, 'redelivery', `slot ${iso(r.slot)} delivered again`);
        await this.fire(r.agentId, r.slot, 1);
      }
      await this.local.eventSource.drain();
      await this.local.breaker.coolDown();
      if ((t - this.start) % (5 * MINUTE) === 0) await this.sample(t);
      if ((t - this.start) % (60 * MINUTE) === 0) await this.progress(t);
    }
    await this.local.eventSource.drain();
    const result = await this.result(slots.length);
    result.checks = scenario.check(result);
    result.passed = result.checks.every((c) => c.ok);
    return result;
  }

  // ScenarioControl
  overrideRun(agentId: string, hhmm: string, work: Work, options: { crash?: boolean } = {}): void {
    this.overrides.set(`${agentId}@${hhmm}`, { work, crash: options.crash ?? false });
  }
  invokeAt(agentId: string, hhmm: string, work: Work): void {
    this.extraRuns.push({ agentId, at: this.atTime(hhmm), work });
  }
  async invokeNow(agentId: string): Promise<void> {
    await this.fire(agentId, this.clock.now() + ++this.offSchedule, 0);
  }
  redeliverAt(agentId: string, slotHhmm: string, atHhmm: string): void {
    this.redeliveries.push({ agentId, slot: this.atTime(slotHhmm), at: this.atTime(atHhmm) });
  }
  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }
  reference(agentId: string): Work {
    return this.works.get(agentId)!;
  }

  private atTime(hhmm: string): number {
    const [h, m] = hhmm.split(':').map(Number);
    return this.start + (h! * 60 + m!) * MINUTE;
  }

  private slots(): Slot[] {
    const slots: Slot[] = [];
    for (const agent of this.options.pipeline.agents) {
      agent.schedules.forEach((entry, index) => {
        const cron = new Cron(entry.cron, { timezone: entry.timeZone, paused: true });
        for (let at = cron.nextRun(new Date(this.start - 1)); at && at.getTime() <= this.end; at = cron.nextRun(at)) {
          slots.push({ at: at.getTime(), agentId: agent.id, schedule: scheduleName(agent.id, index) });
        }
      });
    }
    return slots.sort((a, b) => a.at - b.at);
  }

  private async fire(agentId: string, slot: number, attempt: number, extraWork?: Work): Promise<void> {
    const hhmm = new Date(slot).toISOString().slice(11, 16);
    const override = attempt === 0 ? (this.overrides.get(`${agentId}@${hhmm}`) ?? this.overrides.get(`${agentId}@*`)) : undefined;
    const work = extraWork ?? override?.work ?? this.works.get(agentId)!;
    const invocation = { agentId, scheduledTime: new Date(slot).toISOString(), scheduleArn: 'local', attemptNumber: attempt };
    if (override?.crash) {
      // A crashed process: after its work it never returns, and its timers (lease renewal, heartbeats) stop.
      let alive = true;
      let died: () => void = () => undefined;
      const death = new Promise<void>((resolve) => (died = resolve));
      const processClock: Clock = { now: () => this.clock.now(), every: (ms, task) => this.clock.every(ms, async () => (alive ? task() : undefined)) };
      const dying: Work = async (ctx) => {
        await work(ctx);
        alive = false;
        died();
        return new Promise<never>(() => undefined);
      };
      await Promise.race([this.local.handler(agentId, dying, processClock)(invocation), death]);
      this.event(agentId, 'crash', `the ${hhmm} run died holding its lock`);
      return;
    }
    const outcome = (await this.local.handler(agentId, work)(invocation)) as RunOutcome<unknown>;
    this.tally(agentId, outcome);
  }

  private tally(agentId: string, outcome: RunOutcome<unknown>): void {
    const tally = this.tallies[agentId]!;
    if (outcome.status === 'skipped') {
      tally.skipped++;
      this.event(agentId, 'skipped', outcome.reason);
      return;
    }
    for (const output of outcome.outputs) {
      if (output.published) {
        tally.published++;
        this.outputsThisSample[agentId]!++;
        const payload = output.payload as { channel?: string; text?: string };
        if (payload.channel) this.postsPublished.push(payload.text ?? '');
      } else tally.suppressed++;
    }
    if (outcome.status === 'halted') {
      tally.halted++;
      this.event(agentId, 'halted', outcome.reason);
      return;
    }
    tally.completed++;
    if (outcome.degraded) {
      tally.degraded++;
      this.event(agentId, 'degraded', outcome.degraded.reasons.join('; '));
    } else this.event(agentId, 'run', `completed with ${outcome.outputs.length} output(s)`);
  }

  private event(agentId: string | undefined, kind: TimelineEvent['kind'], detail: string): void {
    this.events.push({ at: this.clock.now(), ...(agentId ? { agentId } : {}), kind, detail });
  }

  private async sample(t: number): Promise<void> {
    this.timeline.at.push(t);
    for (const agent of this.options.pipeline.agents) {
      this.timeline.outputs[agent.id]!.push(this.outputsThisSample[agent.id]!);
      this.outputsThisSample[agent.id] = 0;
      const beat = await this.local.heartbeats.last(agent.id);
      this.timeline.heartbeatAgeMinutes[agent.id]!.push(beat ? Math.round((t - beat.beatAt) / MINUTE) : null);
    }
    const depths = await this.local.queueDepths();
    this.timeline.queueDepth.push(depths.queue + depths.inFlight);
    this.timeline.breaker.push((await this.local.breaker.state()).status);
  }

  private async progress(t: number): Promise<void> {
    const totals = Object.values(this.tallies);
    const sum = (k: keyof AgentTally) => totals.reduce((s, a) => s + a[k], 0);
    const state = (await this.local.breaker.state()).status;
    this.options.progress?.(
      `[${new Date(t).toISOString().slice(0, 16).replace('T', ' ')}] runs ${sum('completed')}  outputs ${sum('published')}  ` +
        `degraded ${sum('degraded')}  halted ${sum('halted')}  alerts ${this.local.alerts.alerts.length}  breaker ${state}`,
    );
  }

  private async result(slotCount: number): Promise<SimulationResult> {
    for (const alert of this.local.alerts.alerts) this.events.push({ at: alert.at, kind: 'alert', detail: alert.subject });
    this.events.sort((a, b) => a.at - b.at);
    const totals = Object.values(this.tallies).reduce(
      (sum, t) => ({
        completed: sum.completed + t.completed,
        skipped: sum.skipped + t.skipped,
        halted: sum.halted + t.halted,
        degraded: sum.degraded + t.degraded,
        published: sum.published + t.published,
        suppressed: sum.suppressed + t.suppressed,
      }),
      { completed: 0, skipped: 0, halted: 0, degraded: 0, published: 0, suppressed: 0 },
    );
    const depths = await this.local.queueDepths();
    const m = this.local.metrics;
    const index = ((await this.local.reader.get('drafts', 'index'))?.value as string[] | undefined) ?? [];
    return {
      scenario: this.options.scenario,
      start: this.start,
      end: this.end,
      agents: this.tallies,
      limits: Object.fromEntries(this.options.pipeline.agents.map((a) => [a.id, a.breaker.maxOutputs])),
      windowMinutes: Object.fromEntries(this.options.pipeline.agents.map((a) => [a.id, a.breaker.windowMinutes])),
      totals: { ...totals, slots: slotCount },
      alerts: this.local.alerts.alerts,
      breaker: (await this.local.breaker.state()).status,
      memory: {
        submitted: this.local.sqs.queue(this.local.memoryQueue).sentCount,
        applied: m.get('UpdatesApplied'),
        duplicates: m.get('UpdatesDuplicate'),
        rejected: m.get('UpdatesRejected'),
        deadLetters: depths.deadLetters,
        queued: depths.queue + depths.inFlight,
      },
      takeovers: m.get('LockTakeovers'),
      duplicatePostsPublished: this.postsPublished.length - new Set(this.postsPublished).size,
      draftIndexDuplicates: index.length - new Set(index).size,
      events: this.events,
      timeline: this.timeline,
      checks: [],
      passed: false,
    };
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
