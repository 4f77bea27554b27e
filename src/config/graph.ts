/**
 * One cycle of a directed graph, as the node ids along it with the first repeated at the end (`a → b → a`), or
 * undefined: depth first from each node in the order given, so the same graph always names the same cycle.
 */
export function findCycle(nodes: readonly string[], next: (id: string) => readonly string[]): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const to of next(id)) {
      const cycle = visit(to);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of nodes) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}
