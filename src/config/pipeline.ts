import { basename, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { ID, agentSchema, breakerLimitSchema, idMessage, positiveInt } from './agent-schema.ts';
import { NightshiftError } from '../errors.ts';
import { triggerIssues } from './triggers.ts';
import { findCycle } from './graph.ts';

/**
 * The pipeline config: one typed object that declares every agent, its schedules and guardrails. It is validated
 * when the CDK app loads it (synth time), and the same validated object drives the local runner.
 */

/** A config that cannot be deployed. `issues` lists every problem; `message` is one line naming each field path. */
export class ConfigError extends NightshiftError {
  override readonly name = 'ConfigError';
  declare readonly issues: readonly { path: string; message: string }[];
  constructor(issues: readonly { path: string; message: string }[]) {
    const lines = issues.map((i) => `${i.path}: ${i.message}`);
    // One problem on the line; several, one per line.
    super(`Invalid pipeline config:${lines.length === 1 ? ` ${lines[0]}` : lines.map((line) => `\n  ${line}`).join('')}`);
    // Not enumerable: an uncaught ConfigError (a config imported by the user's own stack) prints its message and
    // where the user's code called, not an object dump.
    Object.defineProperty(this, 'issues', { value: issues, enumerable: false });
    this.stack = userFrames(this.stack ?? '');
  }
}

/** Nightshift's own code (its dist/, or its sources): frames there are validation internals, noise to a config's author. */
const OWN_FOLDERS = ((root: string) => (basename(root) === 'dist' ? [`${root}${sep}`] : ['src', 'lib', 'local', 'cli'].map((folder) => join(root, folder, sep))))(
  resolve(fileURLToPath(new URL('../..', import.meta.url))),
);

/** The stack without Nightshift's and Node's own frames: the message, then where the user's code was. */
function userFrames(stack: string): string {
  const lines = stack.split('\n');
  const firstFrame = lines.findIndex((line) => /^\s+at /.test(line));
  if (firstFrame < 0) return stack;
  const frames = lines
    .slice(firstFrame)
    .filter((line) => !line.includes('node:') && !line.includes(`${sep}node_modules${sep}`) && !OWN_FOLDERS.some((folder) => line.includes(folder)));
  return [...lines.slice(0, firstFrame), ...frames.slice(0, 3)].join('\n');
}

const pipelineSchema = z
  .strictObject({
    /** Names the stack and the schedule group. */
    name: z.string().regex(ID, idMessage),
    stage: z.string().regex(/^[a-z][a-z0-9-]{0,15}$/, 'must be 1-16 lowercase letters, digits or dashes'),
    agents: z.array(agentSchema).min(1, 'a pipeline needs at least one agent'),
    /** Pipeline-wide output limit, counted across all agents, and the breaker's optional cool-down. */
    breaker: breakerLimitSchema.extend({
      /** Minutes after a trip when one probe run is let through (HALF_OPEN); unset means only a manual reset. */
      coolDownMinutes: positiveInt.max(7 * 24 * 60).optional(),
    }),
    steward: z
      .strictObject({
        /** Messages per steward invocation; FIFO event sources allow at most 10. */
        batchSize: positiveInt.max(10).default(10),
        /** Deliveries of one update before it moves to the dead-letter queue. */
        maxReceiveCount: positiveInt.max(1000).default(5),
        timeoutSeconds: positiveInt.max(900).default(30),
      })
      .default({ batchSize: 10, maxReceiveCount: 5, timeoutSeconds: 30 }),
    /**
     * Retrieval by meaning: the steward embeds each entry when its searchable text changes, and `ctx.retrieve` fuses
     * the embeddings' ranking with the words'. In the cloud the model is Amazon Titan Text Embeddings V2 on Bedrock
     * (`dimensions` 256, 512 or 1024); locally and in the bench an offline model. `false`: words only, no Bedrock
     * embedding calls. @default { dimensions: 512 }
     */
    embeddings: z
      .union([z.literal(false), z.strictObject({ dimensions: z.union([z.literal(256), z.literal(512), z.literal(1024)]).default(512) })])
      .default({ dimensions: 512 }),
    /**
     * AWS X-Ray tracing of every function (Lambda active tracing, and Powertools Tracer around the AWS SDK clients,
     * loaded only when this is on). @default false
     */
    tracing: z.boolean().default(false),
    /**
     * Memory namespaces whose entries may be pinned (`{ pinned: true }`: house rules, which go first into every
     * reader's context). The steward refuses a pin anywhere else, so an agent cannot push what it writes ahead of
     * everything its readers retrieve. @default [] (no pinning)
     */
    pinnable: z.array(z.string()).default([]),
    /**
     * Concurrency reserved for the parts that must run whatever the agents do: an agent that fans out (its breaker
     * requests, events, queue traffic) cannot throttle the watch, the pager path, the breaker function or the steward
     * account-wide. The steward's event source never runs more than `steward` at once. `false` reserves nothing (an
     * account whose concurrency limit is below 100 cannot reserve any: Lambda keeps 100 unreserved).
     * @default { watch: 2, pager: 2, breaker: 10, steward: 5 }
     */
    reservedConcurrency: z
      .union([
        z.literal(false),
        z.strictObject({
          watch: positiveInt.max(100).default(2),
          pager: positiveInt.max(100).default(2),
          breaker: positiveInt.max(1000).default(10),
          steward: z.number().int().min(2, 'the steward\'s event source needs at least 2').max(1000).default(5),
        }),
      ])
      .default({ watch: 2, pager: 2, breaker: 10, steward: 5 }),
    /**
     * How the pipeline pages. `watch`: a watch function every five minutes reads what the pipeline keeps (runs,
     * heartbeats, the breaker, queues) and pages on transitions, with one CloudWatch alarm for its own silence: cents a
     * month. `cloudwatch`: custom metrics, cdk-monitoring-constructs alarms and a dashboard: about $24 a month.
     * @default 'watch'
     */
    monitoring: z.enum(['watch', 'cloudwatch']).default('watch'),
    alerts: z
      .strictObject({
        emails: z.array(z.email()).default([]),
        /**
         * SSM SecureString parameter holding the pager's HTTPS webhook URL (PagerDuty, Opsgenie, …). It is read at run
         * time by a forwarder function, never written into a template.
         */
        pagerWebhookParameter: z
          .string()
          .regex(/^\/[A-Za-z0-9_.\-/]{1,1010}$/, "must be an SSM parameter name starting with '/', e.g. /nightshift/dev/pager-webhook-url")
          .optional(),
        /** Refused: a URL here would be written into the template, key and all. */
        pagerWebhookUrl: z
          .unknown()
          .refine((v) => v === undefined, {
            message: 'a webhook URL in the config ends up in the template with its key: store it in an SSM SecureString parameter and name that in pagerWebhookParameter',
          })
          .optional(),
      })
      .default({ emails: [] }),
  })
  .superRefine((pipeline, ctx) => {
    const indexById = new Map<string, number>();
    pipeline.agents.forEach((agent, i) => {
      if (indexById.has(agent.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['agents', i, 'id'],
          message: `duplicate agent id '${agent.id}' (agents[${indexById.get(agent.id)}] and agents[${i}])`,
        });
      } else {
        indexById.set(agent.id, i);
      }
    });
    pipeline.agents.forEach((agent, i) => {
      if (agent.review && pipeline.monitoring !== 'watch') {
        ctx.addIssue({ code: 'custom', path: ['agents', i, 'review'], message: "review needs monitoring: 'watch' (the watch pages the digest of held outputs and follows onExpiry)" });
      }
    });
    pipeline.agents.forEach((agent, i) => {
      // Repeats the runtime would silently fold into one: name them instead.
      const repeated = (list: readonly string[]) => list.findIndex((item, j) => list.indexOf(item) !== j);
      const checks: [readonly string[], (string | number)[], string][] = [
        [agent.upstream, ['upstream'], 'upstream agent'],
        [agent.schedules.map((s) => `${s.cron} (${s.timeZone})`), ['schedules'], 'schedule'],
        [agent.memory.reads, ['memory', 'reads'], 'namespace'],
        [agent.memory.writes, ['memory', 'writes'], 'namespace'],
      ];
      for (const [list, path, what] of checks) {
        const j = repeated(list);
        if (j >= 0) ctx.addIssue({ code: 'custom', path: ['agents', i, ...path, j], message: `'${agent.id}' lists ${what} '${list[j]}' twice` });
      }
      agent.upstream.forEach((upstreamId, j) => {
        if (upstreamId === agent.id) {
          ctx.addIssue({ code: 'custom', path: ['agents', i, 'upstream', j], message: 'an agent cannot depend on itself' });
        } else if (!indexById.has(upstreamId)) {
          ctx.addIssue({
            code: 'custom',
            path: ['agents', i, 'upstream', j],
            message: `unknown agent id '${upstreamId}'`,
          });
        }
      });
    });
    const written = new Set(pipeline.agents.flatMap((a) => a.memory.writes));
    pipeline.agents.forEach((agent, i) => {
      agent.memory.reads.forEach((namespace, j) => {
        if (!written.has(namespace)) {
          ctx.addIssue({
            code: 'custom',
            path: ['agents', i, 'memory', 'reads', j],
            message: `'${agent.id}' reads namespace '${namespace}', which no agent writes (written: ${[...written].join(', ') || 'none'})`,
          });
        }
      });
    });
    pipeline.pinnable.forEach((namespace, i) => {
      if (!written.has(namespace)) {
        ctx.addIssue({ code: 'custom', path: ['pinnable', i], message: `namespace '${namespace}' is marked pinnable, but no agent writes it (written: ${[...written].join(', ') || 'none'})` });
      }
    });
    for (const issue of triggerIssues(pipeline.agents)) ctx.addIssue({ code: 'custom', ...issue });
    const cycle = dependencyCycle(pipeline.agents);
    if (cycle) {
      ctx.addIssue({
        code: 'custom',
        path: ['agents', indexById.get(cycle[0]!)!, 'upstream'],
        message: `dependency cycle ${cycle.join(' → ')}`,
      });
    }
  });


/** What users write: defaults may be left out. */
export type PipelineInput = z.input<typeof pipelineSchema>;
/** What the app and runtime use: validated, defaults filled in. */
export type PipelineConfig = z.output<typeof pipelineSchema>;
export type AgentConfig = PipelineConfig['agents'][number];

/** Validates a pipeline config and fills in defaults; throws {@link ConfigError} naming every bad field. */
export function definePipeline(input: PipelineInput): PipelineConfig {
  const result = pipelineSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        path: formatPath(issue.path, input),
        message: issue.code === 'unrecognized_keys' ? unknownKeys(issue.keys, keysAt(pipelineSchema, issue.path)) : issue.message,
      })),
    );
  }
  return result.data;
}

/** `agents[writer].schedules[0].cron`: an agent is named by its id when it has one. */
function formatPath(path: readonly PropertyKey[], input: unknown): string {
  const text = path
    .map((p, i) => {
      if (typeof p !== 'number') return `.${String(p)}`;
      const agentId = i === 1 && path[0] === 'agents' ? (input as { agents?: { id?: unknown }[] })?.agents?.[p]?.id : undefined;
      return typeof agentId === 'string' && agentId ? `[${agentId}]` : `[${p}]`;
    })
    .join('');
  return text.startsWith('.') ? text.slice(1) : text || '(root)';
}

/** "unknown key 'schedule' (did you mean 'schedules'?)" for each key the object does not have. */
function unknownKeys(keys: readonly string[], known: readonly string[]): string {
  return keys
    .map((key) => {
      const near = known
        .map((candidate) => ({ candidate, distance: editDistance(key.toLowerCase(), candidate.toLowerCase()) }))
        .filter(({ distance, candidate }) => distance <= Math.max(2, Math.floor(candidate.length / 3)))
        .sort((a, b) => a.distance - b.distance)[0];
      return `unknown key '${key}'${near ? ` (did you mean '${near.candidate}'?)` : known.length ? ` (known: ${known.join(', ')})` : ''}`;
    })
    .join('; ');
}

/** The keys the object schema at `path` accepts (through arrays, optionals, defaults and pipes). */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  type Def = { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; innerType?: z.ZodType; in?: z.ZodType };
  const unwrap = (s: z.ZodType | undefined): z.ZodType | undefined => {
    let current = s;
    for (let def = current?.def as Def | undefined; def && ['optional', 'default', 'prefault', 'nullable', 'pipe'].includes(def.type); def = current?.def as Def | undefined) {
      current = def.innerType ?? def.in;
    }
    return current;
  };
  let current = unwrap(schema);
  for (const key of path) {
    const def = current?.def as Def | undefined;
    current = unwrap(def?.type === 'array' ? def.element : def?.type === 'object' ? def.shape?.[String(key)] : undefined);
  }
  const def = current?.def as Def | undefined;
  return def?.type === 'object' ? Object.keys(def.shape ?? {}) : [];
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}

/** Returns one dependency cycle as agent ids (first id repeated at the end), or undefined. */
function dependencyCycle(agents: readonly { id: string; upstream: readonly string[] }[]): string[] | undefined {
  const upstreamOf = new Map(agents.map((a) => [a.id, a.upstream]));
  // A self-dependency is reported on its own; an unknown upstream too.
  return findCycle([...upstreamOf.keys()], (id) => (upstreamOf.get(id) ?? []).filter((next) => next !== id && upstreamOf.has(next)));
}
