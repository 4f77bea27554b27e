import * as z from 'zod';

/**
 * What an agent is given beyond the pipeline's own parts: secrets read at run time, plain environment variables, and
 * extra IAM permissions (an S3 bucket it reads, say). Each goes to that agent's function and role alone.
 */

/** A secret as the config names it: an SSM SecureString parameter or a Secrets Manager secret, never its value. */
export const secretSchema = z
  .strictObject({
    /** SSM parameter name (a SecureString), e.g. `/newsroom/dev/discord-token`. */
    parameter: z
      .string()
      .regex(/^\/[A-Za-z0-9_.\-/]{1,1010}$/, "must be an SSM parameter name starting with '/', e.g. /newsroom/dev/discord-token")
      .optional(),
    /** Secrets Manager secret name, e.g. `newsroom/discord`. */
    secret: z
      .string()
      .regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'must be a Secrets Manager secret name (letters, digits and /_+=.@-)')
      .optional(),
    /**
     * The value `nightshift local` and `runAgentOnce` use instead (a test token, never deployed). @default - the
     * environment variable `NIGHTSHIFT_SECRET_<AGENT>_<NAME>` (upper case, dashes as underscores)
     */
    local: z.string().optional(),
  })
  .refine((s) => (s.parameter === undefined) !== (s.secret === undefined), {
    message: 'name exactly one of parameter (SSM SecureString) or secret (Secrets Manager)',
  });

const SECRET_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

/** `ctx.secret(name)`: the names an agent may ask for, each with where it lives. */
export const secretsSchema = z
  .record(z.string().regex(SECRET_NAME, 'a secret name must be 1-64 letters, digits, dashes or underscores, starting with a letter'), secretSchema)
  .default({});

/** Variables the platform and Nightshift set: an agent's `environment` may not replace them. */
const RESERVED_VARIABLE = /^(AWS_|LAMBDA_|_|POWERTOOLS_|NIGHTSHIFT_|NODE_OPTIONS$|TZ$|COUNTER_TABLE$|COORDINATION_TABLE$|MEMORY_TABLE$|MEMORY_QUEUE_URL$|BREAKER_FUNCTION$)/;

export const environmentSchema = z
  .record(
    z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]{0,127}$/, 'an environment variable name is letters, digits and underscores, starting with a letter')
      .refine((name) => !RESERVED_VARIABLE.test(name), { message: 'is set by Lambda or Nightshift: choose another name' }),
    z.string().max(4_096),
  )
  .default({});

/** One extra IAM statement for the agent's role: exact actions on named resources. */
export const permissionSchema = z.strictObject({
  actions: z
    .array(z.string().regex(/^[a-z0-9-]+:[A-Za-z0-9*]+$/, "must be an IAM action like 's3:GetObject'"))
    .min(1)
    .refine((actions) => !actions.some((a) => a.endsWith(':*')), { message: "grant the actions the agent calls, not 'service:*'" }),
  resources: z
    .array(z.string().regex(/^arn:[^:]+:[^:]*:[^:]*:[^:]*:.+$/, 'must be a resource ARN'))
    .min(1),
});

export const permissionsSchema = z.array(permissionSchema).default([]);

/** The environment variable a secret's local value is read from when the config gives none. */
export function localSecretVariable(agentId: string, name: string): string {
  return `NIGHTSHIFT_SECRET_${agentId}_${name}`.toUpperCase().replace(/-/g, '_');
}
