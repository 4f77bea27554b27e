import type { BreakerStatus } from '../src/runtime/breaker/breaker.ts';
import type { UsageMeter } from './usage.ts';

/** What a local run produced: the shapes the recorder fills, the scenarios and faults check, the CLI prints. */

/** The scenario presets (`--scenario`). */
export type ScenarioName = 'normal' | 'crash' | '3am';

/**
 * PASS or FAIL when the check's situation arose; NOT EXERCISED when it never did (nothing was shown either way);
 * NOT APPLICABLE when this pipeline's shape cannot give rise to it (the detail says why): neither a failure nor a pass.
 */
export type CheckStatus = 'PASS' | 'FAIL' | 'NOT EXERCISED' | 'NOT APPLICABLE';

export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  /**
   * Whether the run can pass with this check as it stands: PASS, or NOT EXERCISED where nothing required it. A fault's
   * own checks are required: the fault exists to exercise them.
   */
  readonly ok: boolean;
  readonly detail: string;
}

/** A check whose situation arose: PASS when `held`. */
export function check(name: string, held: boolean, detail: string): Check {
  return { name, status: held ? 'PASS' : 'FAIL', ok: held, detail };
}

/** A check whose situation never arose; `required` when the run exists to exercise it (it then fails the run). */
export function notExercised(name: string, detail: string, required: boolean): Check {
  return { name, status: 'NOT EXERCISED', ok: !required, detail: required ? `${detail}; the fault exists to exercise this, so the run fails` : detail };
}

/** A check this pipeline's shape cannot give rise to, and why: it neither fails the run nor passes. */
export function notApplicable(name: string, why: string): Check {
  return { name, status: 'NOT APPLICABLE', ok: true, detail: why };
}

export interface AgentTally {
  completed: number;
  /** Of the completed runs, those an output or an outside event started (not a schedule). */
  triggered: number;
  /** Runs that crashed or threw. */
  failed: number;
  skipped: number;
  halted: number;
  degraded: number;
  published: number;
  /** Outputs suppressed as duplicates. */
  suppressed: number;
  /** Outputs held for review (published later, if approved, by a publishing run of their own). */
  held: number;
}

/** Model usage an agent's runs metered (from every response), against its daily budget. */
export interface ModelTally {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** Calls the budget refused before they were sent. */
  refused: number;
  readonly budgetPerDay: number | undefined;
}

export interface TimelineEvent {
  readonly at: number;
  readonly agentId?: string;
  readonly kind: 'run' | 'degraded' | 'skipped' | 'halted' | 'crash' | 'fail' | 'fault' | 'alert' | 'redelivery';
  readonly detail: string;
}

export interface Timeline {
  /** Sample times (epoch ms), every 5 simulated minutes. */
  readonly at: number[];
  readonly outputs: Record<string, number[]>;
  /** Minutes since each agent's last heartbeat at each sample (never negative), null before its first. */
  readonly heartbeatAgeMinutes: Record<string, (number | null)[]>;
  /** Memory updates agents submitted, and the steward applied, in each 5-minute sample. */
  readonly updates: { readonly submitted: number[]; readonly applied: number[] };
  readonly breaker: BreakerStatus[];
  /** Cumulative context tokens: loaded lazily, and what injecting all memory looked at would have cost. */
  readonly contextTokens: { loaded: number[]; full: number[] };
}

/** One run as the derived checks see it: when it ran, which slot, how it ended. */
/** What started a triggered run: another agent's published output, or an outside event. */
export type RunTrigger =
  | { readonly kind: 'output'; readonly eventId: string; readonly outputId: string }
  | { readonly kind: 'event'; readonly eventId: string; readonly source: string; readonly detailType: string };

export interface RunRecord {
  readonly agentId: string;
  /** Simulated time the run happened. */
  readonly at: number;
  /** The scheduled time it ran for. */
  readonly slot: number;
  readonly status: 'completed' | 'halted' | 'skipped' | 'crash' | 'fail';
  readonly degraded: boolean;
  /** Why a crashed or failed run ended. */
  readonly reason?: string;
  /** What started it, when not its schedule. */
  readonly trigger?: RunTrigger;
  /** For a run started by an output: what it waited for of its upstream's memory updates, and how long. */
  readonly memoryWait?: { readonly from: string; readonly awaited: number; readonly pending: number; readonly waitedMs: number };
}

export interface SimulationResult {
  readonly scenario: ScenarioName;
  /** A continuation of an earlier run's state (`--resume`), not a fresh start. */
  readonly resumed: boolean;
  /** Injected faults (the scenario's and `--inject`), as written. */
  readonly faults: readonly string[];
  readonly start: number;
  readonly end: number;
  readonly agents: Record<string, AgentTally>;
  /** Each agent's breaker limit N and window M. */
  readonly limits: Record<string, number>;
  readonly windowMinutes: Record<string, number>;
  /** Each agent's heartbeat staleness threshold (`heartbeat.staleAfterMinutes`). */
  readonly staleAfterMinutes: Record<string, number>;
  readonly totals: AgentTally & { slots: number };
  readonly alerts: readonly { subject: string; message: string; at: number }[];
  /** What the watch paged (`monitoring: 'watch'`): each incident when it opened, and `RESOLVED: …` when it cleared. */
  readonly pages: readonly { subject: string; at: number }[];
  readonly breaker: BreakerStatus;
  /** By message: submitted = applied + duplicates + rejected + deadLetters + queued; redeliveries counted apart. */
  readonly memory: { submitted: number; applied: number; duplicates: number; rejected: number; deadLetters: number; queued: number; redeliveries: number };
  readonly takeovers: number;
  /** Which model provider the agents called (`offline` locally). */
  readonly modelProvider: string;
  readonly contextTokens: { loaded: number; full: number };
  /** Per agent: model calls and tokens, as the provider reported them. */
  readonly models: Record<string, ModelTally>;
  readonly duplicatePostsPublished: number;
  readonly draftIndexDuplicates: number;
  readonly events: readonly TimelineEvent[];
  readonly runs: readonly RunRecord[];
  /** Every published output: who and when. */
  readonly published: readonly { readonly agentId: string; readonly at: number; readonly outputId: string }[];
  /** A pipeline with review policies: each held output as it ended, and its decision. @default - no review */
  readonly review?: {
    readonly held: readonly { readonly agentId: string; readonly outputId: string; readonly status: string; readonly heldAt: number; readonly decision?: { readonly action: string; readonly by: string; readonly at: number } }[];
  };
  /** Each schedule's state at the end: enabled or not. */
  readonly schedules: Readonly<Record<string, boolean>>;
  /** How often each runtime metric was emitted, by name. */
  readonly metrics: Readonly<Record<string, number>>;
  /** Requests and capacity used (DynamoDB units, SQS requests by action, steward invocations). */
  readonly usage: ReturnType<UsageMeter['toJSON']>;
  readonly timeline: Timeline;
  checks: Check[];
  passed: boolean;
}

