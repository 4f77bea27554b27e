import * as z from 'zod/mini';
import { en } from 'zod/v4/locales';

/**
 * The schema library of everything that runs in a function: zod's tree-shakable "mini" build with English
 * messages, a fifth of the classic build's size and half its load time. (The pipeline config, checked at synth
 * time, uses classic zod.) Modules import `* as z from 'zod/mini'` (a namespace import
 * tree-shakes) and parse through {@link describeIssues}, which ensures the English messages are configured. JSON in
 * an environment variable parses with {@link jsonText}.
 */
z.config(en());

/** A string holding JSON, parsed; "is not JSON" otherwise. */
export const jsonText = z.pipe(
  z.string(),
  z.transform((text: string, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.issues.push({ code: 'custom', message: 'is not JSON', input: text });
      return z.NEVER;
    }
  }),
);

/** One line per issue: `path: message`, `(what)` for the root. */
export function describeIssues(error: Pick<z.core.$ZodError, 'issues'>, root: string): string {
  return error.issues.map((i) => `${i.path.join('.') || root}: ${i.message}`).join('; ');
}
