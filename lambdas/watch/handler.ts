import { Logger } from '@aws-lambda-powertools/logger';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { parseWatchEnvironment } from '../../src/contract/environment.ts';
import { SnsAlerts } from '../../src/runtime/breaker/alerts.ts';
import { readBreakerState } from '../../src/runtime/breaker/breaker-state.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { Watch, type WatchTick, storeSources } from '../../src/runtime/watch/watch.ts';
import { documentClient } from '../../src/runtime/clients.ts';
import { RunHistory } from '../../src/runtime/run-history.ts';
import { MemoryReader } from '../../src/runtime/memory/reader.ts';
import { UNKNOWN_SENDER } from '../../src/contract/tables.ts';
import { embeddingFailures } from '../../src/runtime/memory/entry-vectors.ts';
import { parseReviewEnvironment } from '../../src/contract/review-environment.ts';
import type { ReviewDigest } from '../../src/runtime/review/digest.ts';

const logger = new Logger({ serviceName: 'watch' });
const sqs = new SQSClient({});
let watch: Watch | undefined;

/** Messages waiting (visible) and in flight in one queue. */
async function depth(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(Attributes.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

function watchFromEnvironment(): Watch {
  const env = parseWatchEnvironment();
  // The parts the watch reads with, not a whole Wiring (whose agent parts would load at every cold start).
  const dynamo = documentClient();
  const wiring = {
    dynamo,
    history: () => new RunHistory({ client: dynamo, tableName: env.coordinationTable, clock: systemClock }),
    reader: (agents: readonly string[]) => new MemoryReader({ client: dynamo, tableName: env.memoryTable, senders: [...agents, UNKNOWN_SENDER] }),
  };
  const sns = new SnsAlerts({ sns: new SNSClient({}), topicArn: env.alertTopicArn });
  return new Watch({
    spec: env.watchSpec,
    sources: storeSources({
      history: wiring.history(),
      breaker: () => readBreakerState(wiring.dynamo, env.counterTable),
      reader: wiring.reader(env.watchSpec.agents.map((a) => a.id)),
      embeddingFailures: (now) => embeddingFailures(wiring.dynamo, env.memoryTable, now),
      queues: async () => {
        const agentQueues = Object.entries(env.agentDeadLetterQueueUrls);
        const [[memory, dead, schedule, ...alerts], lost, givenUp] = await Promise.all([
          Promise.all([env.memoryQueueUrl, env.deadLetterQueueUrl, env.scheduleDeadLetterQueueUrl, ...env.alertFailureQueueUrls].map(depth)),
          Promise.all(agentQueues.map(([, url]) => depth(url))),
          env.embedderFailureQueueUrl ? depth(env.embedderFailureQueueUrl) : undefined,
        ]);
        return {
          memoryVisible: memory!.visible,
          memoryDeadLetters: dead!.visible + dead!.inFlight,
          scheduleDeadLetters: schedule!.visible + schedule!.inFlight,
          lostInvocations: Object.fromEntries(agentQueues.map(([id], i) => [id, lost[i]!.visible + lost[i]!.inFlight])),
          undeliveredAlerts: alerts.reduce((sum, q) => sum + q.visible + q.inFlight, 0),
          ...(givenUp ? { embeddingsGivenUp: givenUp.visible + givenUp.inFlight } : {}),
        };
      },
    }),
    client: wiring.dynamo,
    tableName: env.coordinationTable,
    clock: systemClock,
    alerts: { publish: (alert) => sns.publish(alert) },
  });
}

/** The digest of held outputs (and their expiry), when the pipeline reviews any agent's outputs. */
async function digestFromEnvironment(): Promise<ReviewDigest | undefined> {
  const env = parseReviewEnvironment();
  if (!env) return undefined;
  // Loaded only for a pipeline that reviews: the others' watch carries no Lambda client.
  const [{ ReviewDigest }, { deployedReview, linkSigner }] = await Promise.all([import('../../src/runtime/review/digest.ts'), import('../shared/review-deps.ts')]);
  const dynamo = documentClient();
  const sns = new SnsAlerts({ sns: new SNSClient({}), topicArn: parseWatchEnvironment().alertTopicArn });
  return new ReviewDigest({
    // Expiry's publishing runs are started, not waited for: the watch's run stays within its timeout.
    review: deployedReview(env, dynamo, systemClock, { wait: false }),
    reviews: env.reviews,
    client: dynamo,
    tableName: env.coordinationTable,
    clock: systemClock,
    alerts: { publish: (alert) => sns.publish(alert) },
    label: env.label,
    ...(env.approvalPageUrl ? { links: { signer: await linkSigner(env), page: env.approvalPageUrl } } : {}),
    target: env.target,
  });
}

let digest: Promise<ReviewDigest | undefined> | undefined;

/**
 * The watch function: every five minutes, the pipeline's incidents opened and resolved, each paged once; then, for a
 * pipeline with review policies, held outputs past their expiry follow `onExpiry` and the digest pages what was held.
 */
export const handler = async (): Promise<WatchTick> => {
  watch ??= watchFromEnvironment();
  const tick = await watch.run();
  if (tick.opened.length || tick.resolved.length) logger.info('incidents changed', { opened: tick.opened, resolved: tick.resolved });
  const review = await (digest ??= digestFromEnvironment());
  if (review) {
    const run = await review.run();
    if (run.paged || run.expired.length) logger.info('held outputs', { listed: run.listed, expired: run.expired.map((e) => e.output?.outputId) });
  }
  return tick;
};
