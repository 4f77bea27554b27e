import { Logger } from '@aws-lambda-powertools/logger';
import { parseBreakerEnvironment } from '../../src/contract/environment.ts';
import type { Breaker } from '../../src/runtime/breaker/breaker.ts';
import { wireBreaker } from '../../src/runtime/breaker/wire-breaker.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { Wiring } from '../../src/runtime/wiring.ts';
import { breakerSideEffects } from '../shared/breaker-side-effects.ts';

const logger = new Logger({ serviceName: 'breaker-watchdog' });
let breaker: Breaker | undefined;

function breakerFromEnvironment(): Breaker {
  const env = parseBreakerEnvironment();
  // Only the counter table is used: the other names are never read by the breaker.
  const wiring = new Wiring({ tables: { coordination: '', memory: '', counters: env.counterTable }, clock: systemClock });
  return wireBreaker(wiring, { spec: env.breakerSpec, ...breakerSideEffects(env), reset: { stage: env.breakerSpec.stage } });
}

/**
 * Runs every minute when the pipeline has a breaker cool-down: once an OPEN breaker has cooled down, moves it to
 * HALF_OPEN and re-enables the schedules, so the next scheduled run is the probe.
 */
export const handler = async (): Promise<{ halfOpened: boolean }> => {
  breaker ??= breakerFromEnvironment();
  const halfOpened = await breaker.coolDown();
  if (halfOpened) logger.warn('breaker cooled down: HALF_OPEN, schedules re-enabled for one probe run');
  return { halfOpened };
};
