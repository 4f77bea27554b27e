import * as z from 'zod/mini';

/**
 * What the reference agents keep in shared memory, as schemas their reads are checked against
 * (`ctx.memory.read(ns, key, schema)`): an entry another agent wrote in a shape this one does not expect fails the
 * run with the entry and the problem named, instead of flowing on as `undefined`. zod's mini build is already part
 * of every function's cold start, so the schemas cost nothing to load.
 */

/** `drafts/index`: draft keys, oldest first. */
export const draftIndex = z.array(z.string());

/** `drafts/<key>`: what the writer drafted (the SEO agent merges its review in). */
export const draft = z.looseObject({ title: z.optional(z.string()), topic: z.optional(z.string()) });

/** `plans/current`: the planner's plan for the next slot. */
export const plan = z.looseObject({ index: z.optional(z.number()), topic: z.optional(z.string()), angle: z.optional(z.string()) });

/** `community/posts`: every post the community agent made. */
export const posts = z.array(z.unknown());
