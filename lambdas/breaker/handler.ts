import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { parseBreakerEnvironment } from '../../src/contract/environment.ts';
import { BreakerRequestError, type BreakerResponse } from '../../src/runtime/breaker/authority.ts';
import { handleBreakerRequest } from '../../src/runtime/breaker/breaker-function.ts';
import type { Breaker } from '../../src/runtime/breaker/breaker.ts';
import { wireBreaker } from '../../src/runtime/breaker/wire-breaker.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { Wiring } from '../../src/runtime/wiring.ts';
import { breakerSideEffects } from '../shared/breaker-side-effects.ts';

const logger = new Logger({ serviceName: 'breaker' });
let breaker: Breaker | undefined;
let agents: ReadonlySet<string> = new Set();

function breakerFromEnvironment(): Breaker {
  const env = parseBreakerEnvironment();
  agents = new Set(env.breakerSpec.agents);
  const wiring = new Wiring({ tables: { coordination: '', memory: '', counters: env.counterTable }, clock: systemClock });
  return wireBreaker(wiring, { spec: env.breakerSpec, ...breakerSideEffects(env), reset: { stage: env.breakerSpec.stage } });
}

/**
 * Who is asking: the alias the function was invoked through (`…:function:<name>:<agent id>`). Each agent role may
 * invoke only its own alias, so this is IAM's word, not the request's.
 */
export function callerOf(invokedFunctionArn: string, known: ReadonlySet<string>): string {
  const qualifier = invokedFunctionArn.split(':')[7];
  if (qualifier === undefined || !known.has(qualifier)) {
    throw new BreakerRequestError(`the breaker function serves agents through their aliases; it was invoked as ${invokedFunctionArn}`);
  }
  return qualifier;
}

/**
 * The breaker function: the only code that moves the circuit breaker (counts in the pipeline's window, trips, claims
 * and ends probes), halts the schedules and publishes the alert. Agents ask it; nothing else may.
 */
export const handler = async (event: unknown, context: Context): Promise<BreakerResponse> => {
  breaker ??= breakerFromEnvironment();
  const agentId = callerOf(context.invokedFunctionArn, agents);
  const response = await handleBreakerRequest(breaker, agentId, event);
  if (response.op === 'trip' && response.tripped) logger.warn('breaker tripped', { agentId });
  return response;
};
