/**
 * Time as a parameter. Every lease, window and staleness check reads `now()` from a Clock, and every periodic task
 * (lease renewal, heartbeats) is started through `every()`, so tests and the accelerated local mode drive time
 * themselves and nothing ever sleeps.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `task` every `intervalMs` until the returned function is called. */
  every(intervalMs: number, task: () => Promise<void>): () => void;
}

/** Wall-clock time and real timers (in Lambda). Timers are unref'd: they never keep a process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  every(intervalMs, task) {
    const timer = setInterval(() => void task(), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  },
};

interface ManualTimer {
  readonly intervalMs: number;
  readonly task: () => Promise<void>;
  dueAt: number;
}

/**
 * A clock that moves only when told. `advance` runs every timer that falls due on the way, in time order, awaiting
 * each, with `now()` set to the moment it fires.
 */
export class ManualClock implements Clock {
  private current: number;
  private readonly timers: ManualTimer[] = [];

  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  every(intervalMs: number, task: () => Promise<void>): () => void {
    if (!(intervalMs > 0)) throw new RangeError(`interval must be positive, got ${intervalMs}`);
    const timer: ManualTimer = { intervalMs, task, dueAt: this.current + intervalMs };
    this.timers.push(timer);
    return () => {
      const index = this.timers.indexOf(timer);
      if (index >= 0) this.timers.splice(index, 1);
    };
  }

  /** Moves time forward by `ms`, firing due timers on the way. */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new RangeError(`cannot move a clock backwards (${ms} ms)`);
    const target = this.current + ms;
    for (;;) {
      const next = this.timers.filter((t) => t.dueAt <= target).sort((a, b) => a.dueAt - b.dueAt)[0];
      if (!next) break;
      this.current = next.dueAt;
      next.dueAt += next.intervalMs;
      await next.task();
    }
    this.current = target;
  }

  /**
   * Moves time forward without running any timer, as if this process had been frozen (a long GC pause, a suspended
   * Lambda sandbox) while the rest of the world went on.
   */
  jump(ms: number): void {
    if (ms < 0) throw new RangeError(`cannot move a clock backwards (${ms} ms)`);
    this.current += ms;
    for (const timer of this.timers) timer.dueAt = Math.max(timer.dueAt, this.current);
  }

  /** Moves time to `epochMs` (never backwards). */
  advanceTo(epochMs: number): Promise<void> {
    return this.advance(epochMs - this.current);
  }
}
