import type { AgentSpec } from '../config/agent-spec.ts';
import type { GuardDeps } from './run-context.ts';
import { type Lease, LockLostError } from './locks.ts';

const MINUTE = 60_000;

/** Renews the lease and beats on the heartbeat interval while the work runs; aborts the work if the lock is lost. */
export class LeaseKeeper {
  private readonly controller = new AbortController();
  private readonly stopTimer: () => void;
  private inFlight: Promise<void> = Promise.resolve();
  lost: LockLostError | undefined;

  constructor(
    private readonly deps: Pick<GuardDeps, 'locks' | 'heartbeats' | 'clock' | 'metrics' | 'log'>,
    private readonly spec: AgentSpec,
    public lease: Lease,
    private readonly runId: string,
    /** The run's slot (its scheduled time, ISO), by which its beats are ordered. */
    private readonly slot: string,
  ) {
    this.stopTimer = deps.clock.every(spec.heartbeatIntervalMinutes * MINUTE, () => {
      this.inFlight = this.inFlight.then(() => this.tick());
      return this.inFlight;
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  async stop(): Promise<void> {
    this.stopTimer();
    await this.inFlight;
  }

  private async tick(): Promise<void> {
    if (this.lost) return;
    const { locks, heartbeats, clock, metrics, log } = this.deps;
    try {
      this.lease = await locks.renew(this.lease, this.spec.leaseMinutes * MINUTE);
    } catch (error) {
      if (error instanceof LockLostError) {
        this.lose(error);
        return;
      }
      log?.warn('lease renewal failed; retrying on the next beat', { taskId: this.lease.taskId, error: String(error) });
      if (clock.now() >= this.lease.leaseExpiresAt) this.lose(new LockLostError(this.lease, undefined, undefined));
      return;
    }
    await heartbeats
      .beat(this.spec.id, { runId: this.runId, status: 'running', order: { slot: this.slot, fencingToken: this.lease.fencingToken } })
      .catch((error: unknown) => log?.warn('heartbeat failed; retrying on the next beat', { error: String(error) }));
    metrics?.count('LeaseRenewals');
  }

  private lose(error: LockLostError): void {
    this.lost = error;
    this.deps.metrics?.count('LocksLost');
    this.controller.abort(error);
  }
}
