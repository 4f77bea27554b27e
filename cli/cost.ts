import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { NightshiftStack } from '../lib/nightshift-stack.ts';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { runsPerMonth } from '../src/config/schedule-times.ts';
import { triggeredBy } from '../src/config/trigger-routes.ts';
import type { SimulationResult } from '../local/recorder.ts';
import type { CommandResult } from './render.ts';

/**
 * Unit prices, in USD, of everything a Nightshift stack is billed for: AWS list prices for us-east-1 as published
 * in November 2026, before any free tier. Bedrock prices are on-demand, per million tokens.
 */
export const PRICES = {
  date: '2026-11',
  region: 'us-east-1',
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  sqsFifoRequest: 0.5 / 1e6,
  schedulerInvocation: 1.0 / 1e6,
  /** Custom events put on an event bus (rules' deliveries to Lambda are not billed). */
  eventBridgeEvent: 1.0 / 1e6,
  /** Amazon Titan Text Embeddings V2, per token. */
  titanEmbeddingToken: 0.02 / 1e6,
  snsPublish: 0.5 / 1e6,
  cloudWatchDashboard: 3.0,
  cloudWatchAlarmMetric: 0.1,
  cloudWatchCustomMetric: 0.3,
  cloudWatchLogsPerGb: 0.5,
  kmsKey: 1.0,
  /** Per million tokens: input, output, cache read. Keys are model ids without a geography prefix. */
  bedrock: {
    'anthropic.claude-3-5-haiku-20241022-v1:0': { input: 0.8, output: 4.0, cacheRead: 0.08 },
    'anthropic.claude-3-7-sonnet-20250219-v1:0': { input: 3.0, output: 15.0, cacheRead: 0.3 },
    'anthropic.claude-sonnet-4-20250514-v1:0': { input: 3.0, output: 15.0, cacheRead: 0.3 },
    'anthropic.claude-3-haiku-20240307-v1:0': { input: 0.25, output: 1.25, cacheRead: 0.03 },
    'amazon.nova-micro-v1:0': { input: 0.035, output: 0.14, cacheRead: 0.00875 },
    'amazon.nova-lite-v1:0': { input: 0.06, output: 0.24, cacheRead: 0.015 },
    'amazon.nova-pro-v1:0': { input: 0.8, output: 3.2, cacheRead: 0.2 },
  } as Record<string, { input: number; output: number; cacheRead: number }>,
} as const;

/**
 * What is assumed rather than measured, because local mode cannot measure it: how long functions run in Lambda
 * (a model call's latency dominates an agent's run), how much each invocation logs, and how Lambda's event source
 * polls the memory queue (its pollers long-poll even when the queue is empty, and those requests are billed).
 */
export const ASSUMPTIONS = {
  agentBaseSeconds: 1.5,
  secondsPerModelCall: 6,
  stewardSecondsPerBatch: 0.3,
  otherFunctionSeconds: 0.3,
  logKbPerInvocation: 4,
  eventSourcePollsPerMonth: 5 * 3 * 60 * 24 * 30,
  /** What one watch run reads and writes (`monitoring: 'watch'`): its state, the incidents, each agent's runs, the breaker, the rejections; three queues' attributes. */
  watchReadUnitsPerRun: 2 + 0.5 * 20,
  watchReadUnitsPerAgent: 1,
  watchWriteUnitsPerRun: 1,
  watchQueueRequestsPerRun: 3,
  watchRunsPerMonth: 12 * 24 * 30,
};

export type MonitoringMode = PipelineConfig['monitoring'];

const DAYS_PER_MONTH = 30;

export interface CostLine {
  readonly service: string;
  readonly usage: string;
  readonly usd: number;
}

const templates = new WeakMap<PipelineConfig, Partial<Record<MonitoringMode, Template>>>();

/** The pipeline's stack as it would deploy in `mode` (bundling skipped: only resources are counted), synthesized once. */
function templateOf(pipeline: PipelineConfig, mode: MonitoringMode): Template {
  const byMode = templates.get(pipeline) ?? {};
  templates.set(pipeline, byMode);
  return (byMode[mode] ??= Template.fromStack(
    new NightshiftStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Cost', { pipeline: { ...pipeline, monitoring: mode } }),
  ));
}

/**
 * The monthly bill of `pipeline`: runs per month from its schedules; DynamoDB units, SQS requests, steward batches
 * and model tokens measured on a simulated day (`day`) and scaled to those runs; alarms, dashboards and keys
 * counted in the synthesized template.
 */
export function monthlyCost(
  pipeline: PipelineConfig,
  day: SimulationResult,
  mode: MonitoringMode = pipeline.monitoring,
): { lines: CostLine[]; total: number; infrastructure: number; unpricedModels: string[] } {
  const template = templateOf(pipeline, mode);
  const watching = mode === 'watch';
  // The watch runs every five minutes whatever happens: priced from what one run reads and writes.
  const watchRuns = watching ? ASSUMPTIONS.watchRunsPerMonth : 0;
  const runsPerDay = Math.max(1, Object.values(day.agents).reduce((sum, a) => sum + a.completed + a.failed + a.halted + a.skipped, 0));
  // Scheduled runs from the schedules; triggered runs as many per scheduled run as the simulated day had (outside
  // events, which no simulated day sends, are not counted).
  const scheduledMonthly = pipeline.agents.reduce((sum, a) => sum + runsPerMonth(a.schedules), 0);
  const daysPerSimulatedDay = day.totals.slots > 0 ? scheduledMonthly / day.totals.slots : DAYS_PER_MONTH;
  const agentRuns = pipeline.agents.map((agent) => ({ agent, runs: runsPerMonth(agent.schedules) + (day.agents[agent.id]?.triggered ?? 0) * daysPerSimulatedDay }));
  const monthlyRuns = agentRuns.reduce((sum, a) => sum + a.runs, 0);
  const runsOf = new Map(agentRuns.map(({ agent, runs }) => [agent.id, runs]));
  const publishers = new Set(pipeline.agents.filter((a) => triggeredBy(pipeline.agents, a.id).length > 0).map((a) => a.id));
  const outputEvents = day.published.filter((p) => publishers.has(p.agentId)).length * daysPerSimulatedDay;
  const embeddingTokens = pipeline.embeddings ? (day.metrics.EmbeddingTokens ?? 0) * daysPerSimulatedDay : 0;
  const scale = monthlyRuns / runsPerDay;

  const modelCallsPerRun = (agentId: string) => {
    const tally = day.agents[agentId];
    const runs = tally ? tally.completed + tally.failed + tally.halted : 0;
    return runs ? (day.models[agentId]?.calls ?? 0) / runs : 0;
  };
  const agentGbSeconds = agentRuns.reduce(
    (sum, { agent, runs }) => sum + runs * (ASSUMPTIONS.agentBaseSeconds + ASSUMPTIONS.secondsPerModelCall * modelCallsPerRun(agent.id)) * (agent.memoryMb / 1024),
    0,
  );
  const stewardBatches = day.usage.stewardInvocations * scale;
  const watchdogInvocations = pipeline.breaker.coolDownMinutes === undefined ? 0 : 60 * 24 * DAYS_PER_MONTH;
  // Agents ask the breaker function once per output counted (and per trip or probe).
  const breakerRequests = (day.usage.breakerInvocations ?? 0) * scale;
  const invocations = monthlyRuns + stewardBatches + watchdogInvocations + breakerRequests + watchRuns;
  const gbSeconds =
    agentGbSeconds + (stewardBatches * ASSUMPTIONS.stewardSecondsPerBatch + (watchdogInvocations + breakerRequests + watchRuns) * ASSUMPTIONS.otherFunctionSeconds) * 0.5;

  // Local mode skips the watch's quiet runs: what the simulated day measured of it is replaced by the assumption.
  const readUnits = (day.usage.dynamo.readUnits - (day.usage.watch?.readUnits ?? 0)) * scale + watchRuns * (ASSUMPTIONS.watchReadUnitsPerRun + ASSUMPTIONS.watchReadUnitsPerAgent * pipeline.agents.length);
  const writeUnits = (day.usage.dynamo.writeUnits - (day.usage.watch?.writeUnits ?? 0)) * scale + watchRuns * ASSUMPTIONS.watchWriteUnitsPerRun;
  const sent = Object.entries(day.usage.sqs)
    .filter(([action]) => action.startsWith('Send'))
    .reduce((sum, [, n]) => sum + n, 0);
  const sqsRequests = sent * scale + ASSUMPTIONS.eventSourcePollsPerMonth + stewardBatches + watchRuns * ASSUMPTIONS.watchQueueRequestsPerRun; // polls, a delete per batch, the watch's looks

  const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as { Properties: { Metrics?: { MetricStat?: unknown }[] } }[];
  const alarmMetrics = alarms.reduce((sum, a) => sum + (a.Properties.Metrics ? a.Properties.Metrics.filter((m) => m.MetricStat).length : 1), 0);
  const dashboards = Object.keys(template.findResources('AWS::CloudWatch::Dashboard')).length;
  const keys = Object.keys(template.findResources('AWS::KMS::Key')).length;
  // Each metric name the runtime emitted, once per service that emits it (every agent, and the steward); the watch
  // mode turns them off.
  const customMetrics = watching ? 0 : Object.keys(day.metrics).length * (pipeline.agents.length + 1);
  const alertsPerMonth = (day.alerts.length + (day.pages?.length ?? 0)) * DAYS_PER_MONTH;
  const logGb = (invocations * ASSUMPTIONS.logKbPerInvocation) / 1024 / 1024;

  const unpricedModels: string[] = [];
  const model = { input: 0, output: 0, cacheRead: 0, usd: 0 };
  for (const agent of pipeline.agents) {
    const tally = day.models[agent.id];
    if (!tally || !agent.model) continue;
    const perRun = (n: number) => (n / Math.max(1, day.agents[agent.id]!.completed + day.agents[agent.id]!.halted)) * runsOf.get(agent.id)!;
    const [input, output, cacheRead] = [perRun(tally.inputTokens), perRun(tally.outputTokens), perRun(tally.cacheReadTokens)];
    model.input += input;
    model.output += output;
    model.cacheRead += cacheRead;
    const price = PRICES.bedrock[agent.model.id.replace(/^(us|eu|apac|ap|ca|jp|au)\./, '')];
    if (!price) {
      unpricedModels.push(agent.model.id);
      continue;
    }
    model.usd += (input * price.input + output * price.output + cacheRead * price.cacheRead) / 1e6;
  }

  const count = (n: number) => Math.round(n).toLocaleString('en-US');
  const lines: CostLine[] = [
    {
      service: 'Lambda requests',
      usage: `${count(invocations)} invocations (${count(monthlyRuns)} agent runs, ${count(stewardBatches)} steward batches, ${count(breakerRequests)} breaker requests${watchRuns ? `, ${count(watchRuns)} watch runs` : ''}${watchdogInvocations ? `, ${count(watchdogInvocations)} watchdog` : ''})`,
      usd: invocations * PRICES.lambdaRequest,
    },
    { service: 'Lambda compute (arm64)', usage: `${count(gbSeconds)} GB-s`, usd: gbSeconds * PRICES.lambdaArmGbSecond },
    { service: 'DynamoDB on-demand', usage: `${count(readUnits)} read units, ${count(writeUnits)} write units`, usd: readUnits * PRICES.dynamoReadUnit + writeUnits * PRICES.dynamoWriteUnit },
    { service: 'SQS FIFO', usage: `${count(sqsRequests)} requests (${count(ASSUMPTIONS.eventSourcePollsPerMonth)} of them event-source polls)`, usd: sqsRequests * PRICES.sqsFifoRequest },
    {
      service: 'EventBridge Scheduler',
      usage: `${count(scheduledMonthly + watchdogInvocations + watchRuns)} invocations`,
      usd: (scheduledMonthly + watchdogInvocations + watchRuns) * PRICES.schedulerInvocation,
    },
    { service: 'EventBridge events', usage: `${count(outputEvents)} outputs put on the bus for their triggers`, usd: outputEvents * PRICES.eventBridgeEvent },
    { service: 'SNS', usage: `${count(alertsPerMonth)} alerts and pages`, usd: alertsPerMonth * PRICES.snsPublish },
    { service: 'CloudWatch dashboards', usage: `${dashboards}`, usd: dashboards * PRICES.cloudWatchDashboard },
    { service: 'CloudWatch alarms', usage: `${alarms.length} alarms over ${alarmMetrics} metrics`, usd: alarmMetrics * PRICES.cloudWatchAlarmMetric },
    { service: 'CloudWatch custom metrics', usage: `${customMetrics} metrics`, usd: customMetrics * PRICES.cloudWatchCustomMetric },
    { service: 'CloudWatch Logs', usage: `${logGb.toFixed(2)} GB ingested`, usd: logGb * PRICES.cloudWatchLogsPerGb },
    { service: 'KMS', usage: `${keys} customer managed key(s)`, usd: keys * PRICES.kmsKey },
    { service: 'Bedrock (model tokens)', usage: `${count(model.input)} in, ${count(model.output)} out, ${count(model.cacheRead)} cache read`, usd: model.usd },
    { service: 'Bedrock (embeddings)', usage: `${count(embeddingTokens)} Titan V2 tokens (entries and queries)`, usd: embeddingTokens * PRICES.titanEmbeddingToken },
  ];
  const total = lines.reduce((sum, l) => sum + l.usd, 0);
  // What the pipeline's own infrastructure costs: everything but model tokens and dashboards (both optional extras).
  const infrastructure = lines.filter((l) => l.service !== 'Bedrock (model tokens)' && l.service !== 'CloudWatch dashboards').reduce((sum, l) => sum + l.usd, 0);
  return { lines, total, infrastructure, unpricedModels };
}

export function costView(pipeline: PipelineConfig, day: SimulationResult): CommandResult {
  const modes: MonitoringMode[] = ['watch', 'cloudwatch'];
  const priced = Object.fromEntries(modes.map((mode) => [mode, monthlyCost(pipeline, day, mode)])) as Record<MonitoringMode, ReturnType<typeof monthlyCost>>;
  const own = priced[pipeline.monitoring];
  const width = Math.max(...own.lines.map((l) => l.service.length), 'infrastructure'.length);
  const money = (usd: number) => `$${usd.toFixed(2)}`.padStart(9);
  const column = (mode: MonitoringMode) => `${mode}${mode === pipeline.monitoring ? '*' : ''}`.padStart(11);
  const text = [
    `Monthly cost of ${pipeline.name} (${pipeline.stage}): ${PRICES.region} list prices of ${PRICES.date}, before free tiers; * is this config's monitoring.`,
    `Measured: a simulated day of this pipeline locally; assumed: ${ASSUMPTIONS.agentBaseSeconds} s per agent run plus ${ASSUMPTIONS.secondsPerModelCall} s per model call, ${ASSUMPTIONS.logKbPerInvocation} KB of logs per invocation.`,
    '',
    `${''.padEnd(width)}  ${modes.map(column).join('')}`,
    ...own.lines.map((l, i) => `${l.service.padEnd(width)}  ${modes.map((m) => `  ${money(priced[m].lines[i]!.usd)}`).join('')}  ${l.usage}`),
    `${'infrastructure'.padEnd(width)}  ${modes.map((m) => `  ${money(priced[m].infrastructure)}`).join('')}  (all but model tokens and dashboards)`,
    `${'total'.padEnd(width)}  ${modes.map((m) => `  ${money(priced[m].total)}`).join('')}  per month`,
    ...(own.unpricedModels.length ? ['', `Not priced (no price in the table): ${[...new Set(own.unpricedModels)].join(', ')}`] : []),
  ].join('\n');
  return {
    data: { prices: PRICES, assumptions: ASSUMPTIONS, monitoring: pipeline.monitoring, lines: own.lines, total: own.total, infrastructure: own.infrastructure, modes: priced, unpricedModels: own.unpricedModels },
    text,
  };
}
