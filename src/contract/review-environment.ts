import * as z from 'zod/mini';
import { describeIssues, jsonText } from '../runtime/schema.ts';
import { EnvironmentError } from './environment.ts';

/**
 * What deciding on held outputs needs, in the approval function and the watch (its digest, and expiry): one JSON
 * variable, written by `PipelineReview` (`lib/`), read here.
 */
export const REVIEW_VARIABLE = 'NIGHTSHIFT_REVIEW';

const nonEmpty = () => z.string().check(z.minLength(1));

const reviewEnvironmentSchema = z.object({
  counterTable: nonEmpty(),
  coordinationTable: nonEmpty(),
  /** The Secrets Manager secret holding the links' signing key (never the key). */
  linkKeySecretArn: nonEmpty(),
  /** The approval page (the approval function's URL): the watch's digest links to it. @default - none (the approval function itself) */
  approvalPageUrl: z.optional(nonEmpty()),
  label: nonEmpty(),
  /** How CLI commands in the digest name the target (`--stage dev`). */
  target: nonEmpty(),
  reviews: z.record(z.string(), z.object({ onExpiry: z.enum(['discard', 'publish']) })),
  /** Each reviewed agent's function: a decision starts its publishing run there. */
  agentFunctions: z.record(z.string(), nonEmpty()),
});

export type ReviewEnvironment = z.output<typeof reviewEnvironmentSchema>;

export function reviewVariables(env: ReviewEnvironment): Record<string, string> {
  return { [REVIEW_VARIABLE]: JSON.stringify(env) };
}

/** The review environment, or undefined when the pipeline reviews nothing (no variable). */
export function parseReviewEnvironment(env: NodeJS.ProcessEnv = process.env): ReviewEnvironment | undefined {
  const text = env[REVIEW_VARIABLE];
  if (text === undefined) return undefined;
  const parsed = z.pipe(jsonText, reviewEnvironmentSchema).safeParse(text);
  if (!parsed.success) throw new EnvironmentError(`${REVIEW_VARIABLE}: ${describeIssues(parsed.error, REVIEW_VARIABLE)}`);
  return parsed.data;
}
