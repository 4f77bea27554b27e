import { loadAgentModule } from './agent-module.ts';
import { localDigest, localReview } from './review.ts';
import { reviewChecks } from './review-checks.ts';
import { decideHeld } from '../src/runtime/review/decisions.ts';
import type { ReviewDigest } from '../src/runtime/review/digest.ts';
import { NightshiftError } from '../src/errors.ts';
import { Cron } from 'croner';
import { scheduleName } from '../src/config/agent-spec.ts';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import type { CallLog } from '../src/runtime/aws-calls.ts';
import { type Clock, ManualClock } from '../src/runtime/clock.ts';
import type { AgentContext, RunOutcome } from '../src/runtime/run-lifecycle.ts';
import { type Fault, redeliveryAt } from './faults.ts';
import { checkAgentEntries } from '../lib/bundling.ts';
import { LocalPipeline } from './pipeline.ts';
import type { BusEvent } from './event-bus.ts';
import { RunRecorder, type SimulationResult } from './recorder.ts';
import { type ScenarioName, runChecks, runFaults } from './scenarios.ts';
import { RESERVED_SOURCE_PREFIX } from '../src/config/triggers.ts';
import type { RunTrigger } from './result.ts';

export type { SimulationResult } from './recorder.ts';

/**
 * Runs the pipeline locally on an accelerated clock: fires each agent at its cron times (croner, with time zones),
 * feeds the steward from the queue every simulated minute, and records what happened for the summary and report.
 */

type Work = (ctx: AgentContext) => Promise<unknown>;

export interface SimulationOptions {
  readonly pipeline: PipelineConfig;
  readonly scenario: ScenarioName;
  /** `--inject` flags, on top of the scenario's own faults. @default none */
  readonly inject?: readonly string[];
  readonly hours: number;
  /** @default 2026-11-25T00:00:00Z (a Wednesday) */
  readonly start?: Date;
  readonly stateDir?: string;
  readonly dynamoEndpoint?: string;
  readonly tablePrefix?: string;
  readonly print?: (line: string) => void;
  readonly progress?: (line: string) => void;
  /**
   * Continue the state already in `stateDir` (a finished run, perhaps changed by an operator since) instead of
   * starting empty: the schedules start as they were left; no scenario faults are injected.
   */
  readonly resume?: { readonly schedules: Readonly<Record<string, boolean>> };
  /** Called with the finished run while its DynamoDB Local still runs (the CLI snapshots the state then). */
  readonly onFinished?: (finished: { dynamoEndpoint: string; result: SimulationResult; calls: CallLog }) => Promise<void>;
  /**
   * A rehearsal's person: decides every held output `minutes` after it was held, on the simulated clock
   * (`--approve-after`, `--reject-after`). @default - nobody decides
   */
  readonly decideAfter?: { readonly action: 'approve' | 'reject'; readonly minutes: number };
}

const MINUTE = 60_000;

/** Where a simulation starts unless told otherwise: 2026-11-25 00:00 UTC, a Wednesday. */
export const SIMULATION_START = new Date('2026-11-25T00:00:00Z');

interface Slot {
  readonly at: number;
  readonly agentId: string;
  readonly schedule: string;
}

export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const start = (options.start ?? SIMULATION_START).getTime();
  const end = start + options.hours * 60 * MINUTE;
  const faults = runFaults(options.resume ? 'normal' : options.scenario, options.inject ?? [], options.pipeline, start);
  checkAgentEntries(options.pipeline); // before DynamoDB Local starts: a missing or work-less entry names its agent
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
    const result = await new Simulation(options, faults, local, clock, start, end).run();
    await options.onFinished?.({ dynamoEndpoint: local.dynamoEndpoint, result, calls: local.calls });
    return result;
  } finally {
    await local.stop();
  }
}

/** How many times a looping agent is re-invoked: enough to cross any limit the config accepts and show the refusals. */
const LOOP_ATTEMPTS = (maxOutputs: number) => 2 * maxOutputs + 5;
const LOOP_INTERVAL_MS = 10_000;

class Simulation {
  private readonly works = new Map<string, Work>();
  /** Crashes and failures waiting for their agent's first run at or after their time, scheduled or triggered. */
  private readonly armed: Fault[] = [];
  /** Deliveries again of a crashed run's slot or event, once its lease has expired. */
  private readonly redeliveries: { agentId: string; slot: number; at: number; event?: BusEvent }[] = [];
  private readonly loops: Fault[] = [];
  /** Loops on agents that run only on triggers: their next triggered run emits again and again. */
  private readonly loopingRuns = new Map<string, Fault>();
  private readonly recorder: RunRecorder;
  private readonly handlers = new Map<string, Map<Work, (event: unknown) => Promise<unknown>>>();
  private offSchedule = 0;
  /** Whether anything ran since the watch last looked, and until when it would find nothing new otherwise. */
  private stirred = true;
  private watchSent = -1;
  /** The watch's digest of held outputs: only for a pipeline with review policies. */
  private readonly digest: ReviewDigest | undefined;
  private watchQuietUntil = 0;

  constructor(
    private readonly options: SimulationOptions,
    private readonly faults: readonly Fault[],
    private readonly local: LocalPipeline,
    private readonly clock: ManualClock,
    private readonly start: number,
    private readonly end: number,
  ) {
    this.recorder = new RunRecorder(options.pipeline, options.scenario, local, clock, start, end, options.progress);
    this.digest = options.pipeline.monitoring === 'watch' ? localDigest(local, (agentId, outcome) => this.recorder.publishedHeld(agentId, outcome)) : undefined;
  }

  async run(): Promise<SimulationResult> {
    for (const agent of this.options.pipeline.agents) {
      const module = await loadAgentModule(agent);
      if (module.publishers) this.local.publishers.set(agent.id, module.publishers);
      this.works.set(agent.id, module.work);
    }
    for (const [name, enabled] of Object.entries(this.options.resume?.schedules ?? {})) this.local.schedules.state.set(name, enabled);
    const slots = this.slots();
    this.plan();
    this.local.stewardStalled = (now) => this.faults.some((f) => f.kind === 'stall' && now >= f.at && (f.until === undefined || now < f.until));
    let next = 0;
    for (let t = this.start; t <= this.end; t += MINUTE) {
      if (t > this.clock.now()) await this.clock.advanceTo(t);
      for (const fault of this.faults.filter((f) => f.at <= t && f.at > t - MINUTE)) this.recorder.event(fault.kind === 'stall' ? undefined : fault.agentId, 'fault', `injected ${fault.label}`);
      while (next < slots.length && slots[next]!.at <= t) {
        const slot = slots[next++]!;
        if (this.local.schedules.isEnabled(slot.schedule) && !this.silenced(slot)) await this.fire(slot.agentId, slot.at, 0);
      }
      for (const loop of this.loops.filter((l) => l.at <= t)) {
        this.loops.splice(this.loops.indexOf(loop), 1);
        await this.runLoop(loop);
      }
      for (const r of this.redeliveries.filter((r) => r.at <= t)) {
        this.redeliveries.splice(this.redeliveries.indexOf(r), 1);
        this.recorder.event(r.agentId, 'redelivery', r.event ? `event ${r.event.id} delivered again` : `slot ${iso(r.slot)} delivered again`);
        await this.fire(r.agentId, r.slot, 1, undefined, r.event);
      }
      await this.deliverEvents();
      await this.local.drainMemory();
      if (await this.local.breaker.coolDown()) {
        this.recorder.changed();
        this.stirred = true;
      }
      if ((t - this.start) % (5 * MINUTE) === 0) {
        // The watch function's schedule (rate 5 minutes), on the simulated clock. A run that could find nothing new
        // (nothing ran, nothing was sent, no deadline passed) is skipped: it would only read and write the same.
        const sent = this.local.sqs.queue(this.local.memoryQueue).sentCount;
        if (this.local.watch && (this.stirred || sent !== this.watchSent || t >= this.watchQuietUntil)) {
          this.watchQuietUntil = (await this.local.watch.run()).quietUntil;
          this.watchSent = sent;
          this.stirred = false;
        }
        // The watch's digest of held outputs (and expiry), on the same schedule; a rehearsal's person decides.
        await this.digest?.run();
        await this.decide(t);
        await this.recorder.sample(t);
      }
      if ((t - this.start) % (60 * MINUTE) === 0) {
        await this.local.ttl.sweep();
        await this.recorder.progress(t);
      }
    }
    await this.local.settle();
    const result = await this.recorder.result(slots.length, this.faults.map((f) => f.label), this.options.resume !== undefined);
    if (this.digest) Object.assign(result, { review: { held: await this.heldOutputs() } });
    result.checks = [...runChecks(this.options.scenario, this.options.pipeline, this.faults, result, this.options.resume !== undefined), ...reviewChecks(result, this.options.decideAfter !== undefined)];
    result.passed = result.checks.every((c) => c.ok);
    return result;
  }

  /**
   * Places each fault: a crash or failure takes over the agent's first run at or after its time, scheduled or started
   * by an event (a crashed run is delivered again at `redeliveryAt`); a loop starts at its time.
   */
  private plan(): void {
    for (const fault of this.faults) {
      if (fault.kind === 'loop') this.loops.push(fault);
      if (fault.kind === 'crash' || fault.kind === 'fail') this.armed.push(fault);
    }
  }

  /** The crash or failure that takes over this run of the agent (at `at`), if one is waiting for it. */
  private disarm(agentId: string, at: number): Fault | undefined {
    const fault = this.armed.find((f) => f.agentId === agentId && f.at <= at);
    if (fault) this.armed.splice(this.armed.indexOf(fault), 1);
    return fault;
  }

  /** A silenced agent stops being invoked at the fault's time: as a disabled or deleted schedule or a broken role. */
  private silenced(slot: Pick<Slot, 'agentId' | 'at'>): boolean {
    return this.faults.some((f) => f.kind === 'silence' && f.agentId === slot.agentId && slot.at >= f.at && (f.until === undefined || slot.at < f.until));
  }

  /**
   * Broken retry logic: the agent is invoked again and again, each run made to emit; what it publishes goes onto the
   * bus like any output, and the agents whose triggers match run on it (and theirs on what they publish).
   */
  private async runLoop(fault: Fault): Promise<void> {
    const agent = this.options.pipeline.agents.find((a) => a.id === fault.agentId)!;
    if (agent.schedules.length === 0) {
      // Nothing would invoke it again with its input: its next run started by an event loops inside, with its input.
      this.loopingRuns.set(agent.id, fault);
      return;
    }
    for (let retry = 1; retry <= LOOP_ATTEMPTS(agent.breaker.maxOutputs); retry++) {
      await this.clock.advance(LOOP_INTERVAL_MS);
      await this.fire(fault.agentId, this.clock.now() + ++this.offSchedule, 0, this.emitting(fault.agentId, retry));
      await this.deliverEvents();
    }
  }

  /**
   * The agent's own work, then its last output emitted again and again (each marked with the retry, so it is not the
   * same content): a retry loop around its publish. Its downstream agents get what they expect from it.
   */
  private emittingAgain(agentId: string, attempts: number): Work {
    const own = this.works.get(agentId)!;
    return async (ctx) => {
      let last: unknown;
      const result = await own(watchingEmits(ctx, (payload) => (last = payload)));
      for (let retry = 1; retry <= attempts; retry++) {
        const again = last !== null && typeof last === 'object' && !Array.isArray(last) ? { ...(last as object), loopRetry: retry } : { fault: 'loop', agentId, retry };
        await ctx.emit(again);
      }
      return result;
    };
  }

  /** Decides, as a rehearsal's person, every held output held at least `decideAfter.minutes` ago. */
  private async decide(now: number): Promise<void> {
    const after = this.options.decideAfter;
    if (!after) return;
    const review = localReview(this.local, new Map(), (agentId, outcome) => this.recorder.publishedHeld(agentId, outcome));
    for (const agent of this.options.pipeline.agents.filter((a) => a.review)) {
      for (const output of await review.held.list(agent.id)) {
        if (output.status !== 'held' || output.heldAt + after.minutes * MINUTE > now) continue;
        await decideHeld(review, agent.id, output.outputId, { action: after.action, by: `rehearsal (--${after.action}-after ${after.minutes})` });
        this.recorder.changed();
      }
    }
  }

  /** Every held output of the reviewed agents as the run left it. */
  private async heldOutputs() {
    const review = localReview(this.local, new Map());
    const all = await Promise.all(this.options.pipeline.agents.filter((a) => a.review).map((a) => review.held.list(a.id)));
    return all.flat().map((o) => ({ agentId: o.agentId, outputId: o.outputId, status: o.status, heldAt: o.heldAt, ...(o.decision ? { decision: { action: o.decision.action, by: o.decision.by, at: o.decision.at } } : {}) }));
  }

  /** The agent's own work, made to emit at least once (a loop's re-invocations each produce output). */
  private emitting(agentId: string, retry: number): Work {
    const own = this.works.get(agentId)!;
    return async (ctx) => {
      let emitted = false;
      const result = await own(watchingEmits(ctx, () => (emitted = true)));
      if (!emitted) await ctx.emit({ fault: 'loop', agentId, retry });
      return result;
    };
  }

  /**
   * EventBridge's deliveries: each event on the bus runs each agent whose trigger matches it, as its rule would,
   * until nothing waits (a triggered run's own outputs are delivered in the same simulated minute).
   */
  private async deliverEvents(): Promise<void> {
    for (let batch = this.local.bus.take(); batch.length > 0; batch = this.local.bus.take()) {
      for (const { agentId, event } of batch) {
        // A silenced agent is not invoked at all: its events are lost to it, as its rule's target would fail.
        if (this.silenced({ agentId, at: this.clock.now() })) {
          this.recorder.event(agentId, 'fault', `event ${event.id} (${event.source}) not delivered: silenced`);
          continue;
        }
        await this.fire(agentId, Date.parse(event.time), 0, undefined, event);
      }
    }
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

  private async fire(agentId: string, slot: number, attempt: number, extraWork?: Work, event?: BusEvent): Promise<void> {
    this.stirred = true;
    const hhmm = new Date(slot).toISOString().slice(11, 16);
    const fault = attempt === 0 && !extraWork ? this.disarm(agentId, event ? this.clock.now() : slot) : undefined;
    const looping = event && !extraWork ? this.loopingRuns.get(agentId) : undefined;
    if (looping) {
      this.loopingRuns.delete(agentId);
      this.recorder.event(agentId, 'fault', `${looping.label}: the run ${event!.id} started emits again and again`);
    }
    const agentConfig = this.options.pipeline.agents.find((a) => a.id === agentId)!;
    const work = extraWork ?? (looping ? this.emittingAgain(agentId, LOOP_ATTEMPTS(agentConfig.breaker.maxOutputs)) : this.works.get(agentId)!);
    // A triggered run gets the event as its rule delivers it; a scheduled one, Scheduler's input.
    const invocation = event ?? { agentId, scheduledTime: new Date(slot).toISOString(), scheduleArn: 'local', attemptNumber: attempt };
    if (fault?.kind === 'crash') {
      // A crashed process: after its work it never returns, and its timers (lease renewal, heartbeats) stop.
      let alive = true;
      let died: () => void = () => undefined;
      const death = new Promise<void>((resolve) => (died = resolve));
      const processClock: Clock = { now: () => this.clock.now(), every: (ms, task) => this.clock.every(ms, async () => (alive ? task() : undefined)) };
      const published: string[] = [];
      const dying: Work = async (ctx) => {
        await work(watchingEmits(ctx, undefined, (result) => result.published && published.push(result.output.id)));
        alive = false;
        died();
        return new Promise<never>(() => undefined);
      };
      await Promise.race([this.local.handler(agentId, dying, processClock)(invocation), death]);
      this.recorder.failed(agentId, slot, 'crash', `the ${hhmm} run died holding its lock (${fault.label})`, event && triggerOf(event), published);
      // Delivered again once the lease has expired: Scheduler's retry of the slot, or EventBridge's of the event.
      this.redeliveries.push({ agentId, slot, at: redeliveryAt(agentConfig, event ? this.clock.now() : slot), ...(event ? { event } : {}) });
      return;
    }
    if (fault?.kind === 'fail') {
      const failing: Work = async () => {
        throw new NightshiftError(`injected failure (${fault.label})`);
      };
      try {
        await this.local.handler(agentId, failing)(invocation);
      } catch {
        this.recorder.failed(agentId, slot, 'fail', `the ${hhmm} run failed (${fault.label})`, event && triggerOf(event));
      }
      return;
    }
    // Like a warm Lambda sandbox, an agent's handler (and its runtime) is built once and reused.
    const forAgent = this.handlers.get(agentId) ?? new Map<Work, (event: unknown) => Promise<unknown>>();
    this.handlers.set(agentId, forAgent);
    let handler = forAgent.get(work);
    if (!handler) forAgent.set(work, (handler = this.local.handler(agentId, work)));
    let outcome: RunOutcome<unknown>;
    try {
      outcome = (await handler(invocation)) as RunOutcome<unknown>;
    } catch (error) {
      // An agent whose work throws fails its run, as its Lambda would; the rest of the pipeline goes on.
      this.recorder.failed(agentId, slot, 'fail', `the ${hhmm} run failed: ${error instanceof Error ? error.message : String(error)}`, event && triggerOf(event));
      return;
    }
    this.recorder.tally(agentId, outcome, slot, event && triggerOf(event));
  }
}

/**
 * The run's context with its `emit` watched: `before` sees each payload as it is emitted, `after` each result. A
 * fault's wrapper of the agent's own work uses it; the work sees the context as ever.
 */
function watchingEmits(ctx: AgentContext, before?: (payload: unknown) => unknown, after?: (result: Awaited<ReturnType<AgentContext['emit']>>) => unknown): AgentContext {
  const emit = ctx.emit.bind(ctx);
  return Object.create(ctx, {
    emit: {
      value: async (payload: unknown, publish?: Parameters<AgentContext['emit']>[1]) => {
        before?.(payload);
        const result = await emit(payload, publish);
        after?.(result);
        return result;
      },
    },
  }) as AgentContext;
}

/** What a delivered event was to the run it started: another agent's output (its id), or an outside event. */
function triggerOf(event: BusEvent): RunTrigger {
  const detail = event.detail as { outputId?: unknown } | undefined;
  return event.source.startsWith(RESERVED_SOURCE_PREFIX) && typeof detail?.outputId === 'string'
    ? { kind: 'output', eventId: event.id, outputId: detail.outputId }
    : { kind: 'event', eventId: event.id, source: event.source, detailType: event['detail-type'] };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
