/**
 * The base of every error Nightshift throws on purpose: `instanceof NightshiftError` tells an expected refusal or
 * failure (a bad config, a held lock, an open breaker) from a bug. Each subclass names itself, so logs and the CLI
 * show what kind of failure it was.
 */
export class NightshiftError extends Error {
  override name = 'NightshiftError';
}

/** A construct or app given props or context it cannot deploy: names the prop and what it must be. */
export class InvalidPropsError extends NightshiftError {
  override name = 'InvalidPropsError';
}

/** A name the pipeline config does not have (an agent id, a namespace): names it and what there is instead. */
export class UnknownNameError extends NightshiftError {
  override name = 'UnknownNameError';
}

/**
 * A write that lost a race it retries only a few times (an entry, the breaker's epoch kept changing under it):
 * transient, so the caller (the queue, the agent's next emit) tries again.
 */
export class ContentionError extends NightshiftError {
  override name = 'ContentionError';
}

/** An operator's command given arguments it cannot act on: names the argument and suggests a fix. */
export class UsageError extends NightshiftError {
  override name = 'UsageError';
}

/** A feature of a run's context the guard was built without (no memory queue, no model in the config). */
export class NotConfiguredError extends NightshiftError {
  override name = 'NotConfiguredError';
}
