/**
 * Names that are partitions of the memory table besides the namespaces' own (the steward's rejection records): never
 * a namespace, so no grant or update for a namespace can ever reach them.
 */
export const RESERVED_NAMESPACES = ['rejected'] as const;

/** What a memory namespace may be called: the config declares them, updates name them, IAM keys on them. */
export const NAMESPACE = new RegExp(`^(?!(?:${RESERVED_NAMESPACES.join('|')})$)[a-z][a-z0-9_-]{0,62}$`);

export const NAMESPACE_RULE = `must be 1-63 lowercase letters, digits, dashes or underscores, starting with a letter, and not a reserved name (${RESERVED_NAMESPACES.join(', ')})`;
