import * as z from 'zod/mini';

/**
 * What the watch needs to know of a pipeline: each agent, and how long it may go without completing a run (its
 * longest scheduled gap plus a grace: its lease, at least 15 minutes) before it counts as silent. Handed to the watch
 * function as `NIGHTSHIFT_WATCH_SPEC`, or built directly by local mode.
 */
export const watchSpecSchema = z.object({
  /** Names the pipeline in pages, e.g. `nightshift (dev)`. */
  label: z.string().check(z.minLength(1)),
  agents: z.array(z.object({ id: z.string().check(z.minLength(1)), silentAfterMs: z.optional(z.number().check(z.positive())) })),
  /** Memory updates waiting this long page. */
  maxUpdateAgeMs: z.optional(z.number().check(z.positive())),
});

export type WatchSpec = z.output<typeof watchSpecSchema>;
export type WatchedAgent = WatchSpec['agents'][number];
