import { Logger } from '@aws-lambda-powertools/logger';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { parseWatchEnvironment } from '../../src/contract/environment.ts';
import { SnsAlerts } from '../../src/runtime/breaker/alerts.ts';
import { readBreakerState } from '../../src/runtime/breaker/breaker-state.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { Watch, type WatchTick, storeSources } from '../../src/runtime/watch/watch.ts';
import { Wiring } from '../../src/runtime/wiring.ts';
import { embeddingFailures } from '../../src/runtime/memory/entry-vectors.ts';

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
  const wiring = new Wiring({ tables: { coordination: env.coordinationTable, memory: env.memoryTable, counters: env.counterTable }, clock: systemClock });
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

/** The watch function: every five minutes, the pipeline's incidents opened and resolved, each paged once. */
export const handler = async (): Promise<WatchTick> => {
  watch ??= watchFromEnvironment();
  const tick = await watch.run();
  if (tick.opened.length || tick.resolved.length) logger.info('incidents changed', { opened: tick.opened, resolved: tick.resolved });
  return tick;
};
