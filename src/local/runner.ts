import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Cron } from 'croner';
import { scheduleName } from '../config/agent-spec';
import type { PipelineConfig } from '../config/pipeline';
import { type Clock, ManualClock } from '../runtime/clock';
import type { AgentContext, RunOutcome } from '../runtime/guard';
import { LocalPipeline } from './pipeline';
import { RunRecorder, type SimulationResult } from './recorder';
import { SCENARIOS, type ScenarioControl, type ScenarioName } from './scenarios';

export type { SimulationResult } from './recorder';

/**
 * Runs the pipeline locally on an accelerated clock: fires each agent at its cron times (croner, with time zones),
 * feeds the steward from the queue every simulated minute, and records what happened for the summary and report.
 */

type Work = (ctx: AgentContext) => Promise<unknown>;

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
  private readonly recorder: RunRecorder;
  private readonly handlers = new Map<string, Map<Work, (event: unknown) => Promise<unknown>>>();
  private offSchedule = 0;

  constructor(
    private readonly options: SimulationOptions,
    private readonly local: LocalPipeline,
    private readonly clock: ManualClock,
    private readonly start: number,
    private readonly end: number,
  ) {
    this.recorder = new RunRecorder(options.pipeline, options.scenario, local, clock, start, end, options.progress);
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
        this.recorder.event(r.agentId, 'redelivery', `slot ${iso(r.slot)} delivered again`);
        await this.fire(r.agentId, r.slot, 1);
      }
      await this.local.eventSource.drain();
      await this.local.breaker.coolDown();
      if ((t - this.start) % (5 * MINUTE) === 0) await this.recorder.sample(t);
      if ((t - this.start) % (60 * MINUTE) === 0) await this.recorder.progress(t);
    }
    await this.local.eventSource.drain();
    const result = await this.recorder.result(slots.length);
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
      this.recorder.event(agentId, 'crash', `the ${hhmm} run died holding its lock`);
      return;
    }
    // Like a warm Lambda sandbox, an agent's handler (and its runtime) is built once and reused.
    const forAgent = this.handlers.get(agentId) ?? new Map<Work, (event: unknown) => Promise<unknown>>();
    this.handlers.set(agentId, forAgent);
    let handler = forAgent.get(work);
    if (!handler) forAgent.set(work, (handler = this.local.handler(agentId, work)));
    const outcome = (await handler(invocation)) as RunOutcome<unknown>;
    this.recorder.tally(agentId, outcome);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
