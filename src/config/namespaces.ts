/** What a memory namespace may be called: the config declares them, updates name them, IAM keys on them. */
export const NAMESPACE = /^[a-z][a-z0-9_-]{0,62}$/;

export const NAMESPACE_RULE = 'must be 1-63 lowercase letters, digits, dashes or underscores, starting with a letter';
