import { tracingOn } from '../../src/contract/environment.ts';
/** Wraps an AWS SDK v3 client so its calls show as X-Ray subsegments; the identity when tracing is off. */
export type Capture = <T>(client: T) => T;

/**
 * Powertools Tracer, loaded only when the stack turned tracing on (`NIGHTSHIFT_TRACING=true`, set with Lambda's
 * active tracing by the pipeline config's `tracing`): the X-Ray SDK stays out of every cold start otherwise.
 */
export async function tracingFromEnvironment(): Promise<Capture> {
  if (!tracingOn()) return (client) => client;
  const { Tracer } = await import('@aws-lambda-powertools/tracer');
  const tracer = new Tracer();
  return (client) => tracer.captureAWSv3Client(client as never) as typeof client;
}
