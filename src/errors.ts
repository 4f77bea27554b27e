/**
 * The base of every error Nightshift throws on purpose: `instanceof NightshiftError` tells an expected refusal or
 * failure (a bad config, a held lock, an open breaker) from a bug. Each subclass names itself, so logs and the CLI
 * show what kind of failure it was.
 */
export class NightshiftError extends Error {
  override name = 'NightshiftError';
}
