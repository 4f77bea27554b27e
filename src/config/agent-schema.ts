import * as z from 'zod';
import { CronError, parseCron, toEventBridgeCron } from './cron.ts';
import { parseModelId } from './models.ts';
import { NAMESPACE, NAMESPACE_RULE } from './namespaces.ts';
import { environmentSchema, permissionsSchema, secretsSchema } from './agent-access.ts';
import { triggerSchema } from './triggers.ts';

/** One agent of the pipeline config: its schedules and triggers, guardrails, memory, model and access. */

export const ID = /^[a-z][a-z0-9-]{0,39}$/;
export const idMessage = 'must be 1-40 lowercase letters, digits or dashes, starting with a letter';

export const positiveInt = z.int().positive();

/** What makes a run's outputs wait for review (`agents[].review.when`). */
export const REVIEW_WHEN = ['always', 'degraded', 'after-trip', 'budget'] as const;

const cron = z.string().superRefine((expression, ctx) => {
  try {
    toEventBridgeCron(parseCron(expression));
  } catch (error) {
    if (!(error instanceof CronError)) throw error;
    ctx.addIssue({ code: 'custom', message: error.message });
  }
});

const timeZone = z.string().superRefine((value, ctx) => {
  if (!isTimeZone(value)) ctx.addIssue({ code: 'custom', message: `'${value}' is not an IANA time zone` });
});

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

const scheduleSchema = z.strictObject({
  /** Five-field crontab expression: `minute hour day-of-month month day-of-week`. */
  cron,
  /** IANA time zone the expression is read in. */
  timeZone: timeZone.default('UTC'),
});

const modelSchema = z.strictObject({
  /**
   * Amazon Bedrock model id (`anthropic.claude-3-5-haiku-20241022-v1:0`) or geographic cross-region inference
   * profile id (`us.anthropic.claude-3-5-haiku-20241022-v1:0`). The agent's role may invoke exactly this model.
   */
  id: z.string().superRefine((id, ctx) => {
    try {
      parseModelId(id);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  }),
  /** Most output tokens per call, unless the call sets its own. */
  maxTokens: positiveInt.max(128_000).default(1024),
  /** Regions an inference profile may route to (IAM allows the model in each). @default the geography's list in `src/config/models.ts` */
  destinationRegions: z.array(z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'must be a region code such as us-east-1')).min(1).optional(),
});

/** An agent's default quota of memory updates per hour: ten a minute on average. */
export const DEFAULT_MAX_UPDATES_PER_HOUR = 600;

export const breakerLimitSchema = z.strictObject({
  /** N: the most outputs allowed inside the window; output N+1 trips the breaker. */
  maxOutputs: positiveInt.max(1_000_000, 'at most 1,000,000: one counter item takes at most 1,000 writes a second, about 3.6 million an hour'),
  /** M: the sliding window's length. */
  windowMinutes: positiveInt.max(24 * 60),
});

export const agentSchema = z
  .strictObject({
    id: z.string().regex(ID, idMessage),
    description: z.string().default(''),
    /** Handler file, relative to the project root. Its `handler` export is the Lambda entry point. */
    entry: z.string().min(1),
    /** When the agent runs by the clock. An agent needs schedules, triggers, or both. @default - none */
    schedules: z.array(scheduleSchema).default([]),
    /** What else runs it: another agent's published outputs or outside events (see `triggers.ts`). @default - none */
    triggers: z.array(triggerSchema).default([]),
    /** Agents whose output this one consumes; their heartbeats decide degraded mode. */
    upstream: z.array(z.string()).default([]),
    heartbeat: z
      .strictObject({
        intervalMinutes: positiveInt.default(5),
        /** An upstream heartbeat older than this is stale: downstream runs degraded. */
        staleAfterMinutes: positiveInt.default(15),
      })
      .default({ intervalMinutes: 5, staleAfterMinutes: 15 })
      .refine((h) => h.staleAfterMinutes > h.intervalMinutes, {
        message: 'staleAfterMinutes must be longer than intervalMinutes',
        path: ['staleAfterMinutes'],
      }),
    lock: z.strictObject({ leaseMinutes: positiveInt.max(24 * 60).default(30) }).default({ leaseMinutes: 30 }),
    breaker: breakerLimitSchema,
    /** Identical content this agent already published within this window is suppressed, not published again. */
    duplicateWindowMinutes: positiveInt.max(30 * 24 * 60).default(24 * 60),
    /** Model tokens the agent may spend per UTC day; unset means no budget. */
    tokenBudgetPerDay: positiveInt.optional(),
    /**
     * When this agent's outputs wait for a person instead of publishing (`nightshift held`, `approve`, `reject`): each
     * output of a run that matches is held, counted by the breaker and claimed against duplicates, its side effect
     * run only once approved. `when`: `always`; `degraded` (an upstream was stale or failed); `after-trip` (the
     * breaker's probe run, or the agent's first run after an operator reset the breaker); `budget` (80% of `tokenBudgetPerDay` spent).
     * The side effect must be one of the module's `publishers`, named in `ctx.emit(payload, 'name')`, so it can run
     * when approved, hours later. @default - no review: every output that passes the breaker publishes at once
     */
    review: z
      .strictObject({
        when: z.array(z.enum(REVIEW_WHEN)).min(1, 'name at least one of always, degraded, after-trip, budget'),
        /** How long a held output waits for a decision. */
        expiresAfterHours: positiveInt.max(14 * 24, 'at most 336 (14 days)').default(24),
        /** What happens to an output nobody decided on in time: dropped, or published as if approved. */
        onExpiry: z.enum(['discard', 'publish']).default('discard'),
      })
      .optional(),
    /**
     * Shared memory this agent may touch: IAM lets its role read only the `reads` namespaces, and the steward applies
     * its updates only to the `writes` namespaces (and only when the agent that sent them is the one they name).
     * @default - none: the agent can neither read nor write memory
     */
    memory: z
      .strictObject({
        reads: z.array(z.string().regex(NAMESPACE, NAMESPACE_RULE)).default([]),
        writes: z.array(z.string().regex(NAMESPACE, NAMESPACE_RULE)).default([]),
        /**
         * The most updates the steward applies for this agent in any 60 minutes; past it, each is rejected
         * `over-quota`, recorded with its body and paged. A loop that writes memory without publishing (which the
         * breaker would count) stops there, and so do the embeddings and message groups it costs the others.
         */
        maxUpdatesPerHour: positiveInt.max(1_000_000).default(DEFAULT_MAX_UPDATES_PER_HOUR),
      })
      .default({ reads: [], writes: [], maxUpdatesPerHour: DEFAULT_MAX_UPDATES_PER_HOUR }),
    /** The model `ctx.model` calls (Bedrock in the cloud, the offline provider locally). @default - none */
    model: modelSchema.optional(),
    /**
     * Secrets the agent reads at run time with `ctx.secret(name)`: SSM SecureString parameters or Secrets Manager
     * secrets, granted to this agent's role alone, read through Powertools Parameters (cached five minutes), never
     * in a template or a log. @default - none
     */
    secrets: secretsSchema,
    /** Environment variables of the agent's function (plain configuration, not secrets). @default - none */
    environment: environmentSchema,
    /** Extra IAM statements for the agent's role, e.g. `{ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::bucket/*'] }`. @default - none */
    permissions: permissionsSchema,
    /** Lambda timeout. */
    timeoutSeconds: positiveInt.max(900).default(300),
    memoryMb: z.int().min(128).max(10240).default(512),
  })
  .refine((a) => a.lock.leaseMinutes * 60 >= a.timeoutSeconds, {
    message: 'leaseMinutes must cover timeoutSeconds, or a run could outlive its lock',
    path: ['lock', 'leaseMinutes'],
  })
  .refine((a) => !a.model || a.tokenBudgetPerDay === undefined || a.model.maxTokens < a.tokenBudgetPerDay, {
    message: 'maxTokens must be below tokenBudgetPerDay, or no call could ever fit the budget',
    path: ['model', 'maxTokens'],
  })
  .refine((a) => !a.model?.destinationRegions || parseModelId(a.model.id).kind === 'inference-profile', {
    message: 'destinationRegions applies only to an inference profile id (us., eu., apac., us-gov.)',
    path: ['model', 'destinationRegions'],
  })
  .refine((a) => !a.review || a.review.expiresAfterHours * 60 <= a.duplicateWindowMinutes, {
    message: 'duplicateWindowMinutes must cover review.expiresAfterHours, or the same content could be held twice while the first waits',
    path: ['review', 'expiresAfterHours'],
  })
  .refine((a) => !a.review?.when.includes('budget') || a.tokenBudgetPerDay !== undefined, {
    message: "'budget' holds outputs once 80% of tokenBudgetPerDay is spent: set tokenBudgetPerDay, or leave 'budget' out",
    path: ['review', 'when'],
  })
  .refine((a) => a.lock.leaseMinutes > a.heartbeat.intervalMinutes, {
    message: 'leaseMinutes must be longer than heartbeat.intervalMinutes, which is how often the lease is renewed',
    path: ['lock', 'leaseMinutes'],
  });
