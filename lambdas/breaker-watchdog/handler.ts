import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Breaker } from '../../src/runtime/breaker/breaker';
import { systemClock } from '../../src/runtime/clock';
import { breakerFromEnvironment } from '../shared/breaker-from-environment';
import { breakerEnvironment } from '../shared/environment';

const logger = new Logger({ serviceName: 'breaker-watchdog' });
let breaker: Breaker | undefined;

/**
 * Runs every minute when the pipeline has a breaker cool-down: once an OPEN breaker has cooled down, moves it to
 * HALF_OPEN and re-enables the schedules, so the next scheduled run is the probe.
 */
export const handler = async (): Promise<{ halfOpened: boolean }> => {
  breaker ??= breakerFromEnvironment(breakerEnvironment(), DynamoDBDocumentClient.from(new DynamoDBClient({})), systemClock);
  const halfOpened = await breaker.coolDown();
  if (halfOpened) logger.warn('breaker cooled down: HALF_OPEN, schedules re-enabled for one probe run');
  return { halfOpened };
};
