import type { SimulationResult } from './recorder.ts';

/** The end-of-run summary: a table per agent, the memory ledger, and the scenario's checks. */
export function formatSummary(result: SimulationResult): string {
  const lines: string[] = [];
  const hours = (result.end - result.start) / 3_600_000;
  lines.push('', `${runLabel(result)}: ${hours} simulated hours from ${new Date(result.start).toISOString()}`);
  lines.push(result.faults.length > 0 ? `faults injected: ${result.faults.join(', ')}` : 'faults injected: none', '');
  // Held outputs get a column when there are any (a pipeline with review policies).
  const held = result.totals.held > 0;
  const header = ['agent', 'completed', 'triggered', 'failed', 'degraded', 'skipped', 'halted', 'published', 'suppressed', ...(held ? ['held'] : []), 'limit N'];
  const rows = Object.entries(result.agents).map(([id, t]) => [
    id,
    t.completed,
    t.triggered,
    t.failed,
    t.degraded,
    t.skipped,
    t.halted,
    t.published,
    t.suppressed,
    ...(held ? [t.held] : []),
    result.limits[id] ?? '',
  ]);
  const { totals } = result;
  rows.push(['total', totals.completed, totals.triggered, totals.failed, totals.degraded, totals.skipped, totals.halted, totals.published, totals.suppressed, ...(held ? [totals.held] : []), '']);
  lines.push(...table([header, ...rows.map((r) => r.map(String))]));
  const failedRuns = result.runs.filter((run) => run.status === 'crash' || run.status === 'fail');
  if (failedRuns.length > 0) {
    lines.push('', 'failed runs:');
    for (const run of failedRuns) lines.push(`  ${run.agentId} for slot ${new Date(run.slot).toISOString()}: ${run.status === 'crash' ? 'crashed' : 'failed'}: ${run.reason ?? 'no reason recorded'}`);
  }
  const waited = result.runs.filter((run) => run.memoryWait);
  if (waited.length > 0) {
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    lines.push('', `memory waits (each run started by an output, before its work, for the updates its upstream's run queued): ${waited.length}`);
    for (const run of waited.slice(0, MAX_WAITS_LISTED)) {
      const w = run.memoryWait!;
      lines.push(`  ${run.agentId} at ${new Date(run.at).toISOString().slice(11, 19)}: waited ${seconds(w.waitedMs)} s for ${w.awaited} of ${w.from}'s update(s)${w.pending ? `; ${w.pending} still pending: ran degraded` : ''}`);
    }
    if (waited.length > MAX_WAITS_LISTED) lines.push(`  … and ${waited.length - MAX_WAITS_LISTED} more (--json lists every run)`);
  }
  const m = result.memory;
  lines.push(
    '',
    `memory updates: ${m.submitted} submitted, ${m.applied} applied, ${m.duplicates} duplicates ignored, ${m.rejected} rejected, ${m.deadLetters} dead-lettered, ${m.queued} still queued`,
    `  (messages, each counted once; ${m.redeliveries} redelivery(ies) of messages already counted)`,
    `locks: ${result.takeovers} expired-lease takeovers    breaker: ${result.breaker}    alerts: ${result.alerts.length}`,
  );
  const { loaded, full } = result.contextTokens;
  lines.push(
    `context tokens: ${loaded} retrieved lazily; injecting all memory looked at: ${full}` +
      (full > 0 ? ` (${Math.round((1 - loaded / full) * 100)}% cut)` : ''),
    '',
    `model calls (${result.modelProvider} provider, usage as each response reported it):`,
  );
  const modelRows = Object.entries(result.models).map(([id, m]) => {
    const total = m.inputTokens + m.outputTokens + m.cacheReadTokens + m.cacheWriteTokens;
    return [id, m.calls, m.inputTokens, m.outputTokens, m.cacheReadTokens, total, m.budgetPerDay ?? '-', m.refused].map(String);
  });
  lines.push(...table([['agent', 'calls', 'input', 'output', 'cache read', 'total', 'budget/day', 'refused'], ...modelRows]).map((l) => `  ${l}`));
  for (const alert of result.alerts) lines.push(`  alert at ${new Date(alert.at).toISOString()}: ${alert.subject}`);
  lines.push('', 'guardrails:');
  const width = Math.max(...result.checks.map((c) => c.status.length));
  for (const check of result.checks) lines.push(`  ${check.status.padEnd(width)}  ${check.name} (${check.detail})`);
  const failing = result.checks.filter((c) => !c.ok);
  const idle = result.checks.filter((c) => c.ok && c.status === 'NOT EXERCISED').length;
  const inapplicable = result.checks.filter((c) => c.status === 'NOT APPLICABLE').length;
  const notes = [
    ...(idle ? [`${idle} check(s) not exercised: their situation never arose`] : []),
    ...(inapplicable ? [`${inapplicable} not applicable to this pipeline's shape`] : []),
  ];
  lines.push('');
  if (result.passed) lines.push(`All guardrails held${notes.length ? ` (${notes.join('; ')})` : ''}.`);
  else lines.push(`${failing.length} check(s) did not hold:`, ...failing.map((c) => `  - ${c.name}: ${c.status === 'NOT EXERCISED' ? 'not exercised' : c.detail}`));
  return lines.join('\n');
}

/** Memory waits listed one per line; the rest are counted. */
const MAX_WAITS_LISTED = 50;

/** What kind of run this was: a scenario as its preset, a rehearsal with injected faults, or a resumed run. */
export function runLabel(result: Pick<SimulationResult, 'scenario' | 'faults' | 'resumed'>): string {
  if (result.resumed) return 'Resumed run (the state a previous run left, continued)';
  if (result.scenario !== 'normal') return `Scenario '${result.scenario}'`;
  return result.faults.length > 0 ? 'Rehearsal with injected faults' : "Scenario 'normal' (a calm day)";
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
}
