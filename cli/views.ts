import { UsageError } from '../src/errors.ts';
import cronstrue from 'cronstrue';
import { nextFireTimes } from '../src/config/schedule-times.ts';
import type { MemoryEntry } from '../src/runtime/memory/reader.ts';
import type { RunEntry } from '../src/runtime/run-history.ts';
import { type CommandResult, withIsoTime } from './render.ts';

/** One schedule as `nightshift schedules` shows it. */
export interface ScheduleRow {
  readonly name: string;
  readonly agentId: string;
  readonly cron: string;
  readonly timeZone: string;
  readonly enabled: boolean;
}

/** "in 2 h 5 min" / "3 min ago", from `now`. */
export function relative(at: number, now: number): string {
  const ms = Math.abs(at - now);
  const minutes = Math.round(ms / 60_000);
  const text = minutes < 60 ? `${minutes} min` : minutes < 48 * 60 ? `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}` : `${Math.round(minutes / 1440)} d`;
  return at >= now ? `in ${text}` : `${text} ago`;
}

/** A time in a zone as `2026-11-25 09:00 America/New_York`. */
function inZone(at: number, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(at))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${timeZone}`;
}

/** `schedules`: each schedule's next fire times in its own zone (and UTC), its cron in words, enabled or not. */
export function schedulesView(rows: readonly ScheduleRow[], now: number, count = 3): CommandResult {
  const data = rows.map((row) => {
    const next = nextFireTimes(row, now, count);
    return {
      ...row,
      description: `${cronstrue.toString(row.cron, { use24HourTimeFormat: true, verbose: true })} (${row.timeZone})`,
      next: next.map((at) => ({ at: new Date(at).toISOString(), local: inZone(at, row.timeZone), in: relative(at, now) })),
    };
  });
  const lines = [`now: ${new Date(now).toISOString()}`, ''];
  for (const row of data) {
    lines.push(`${row.name.padEnd(14)} ${row.enabled ? 'ENABLED ' : 'DISABLED'}  ${row.cron}  — ${row.description}`);
    if (!row.enabled) lines.push('    (disabled: the breaker halted the pipeline, or it was switched off; `nightshift breaker reset` restores what a trip disabled)');
    for (const fire of row.next) lines.push(`    ${fire.local}  (${fire.at}, ${fire.in})`);
  }
  return { data, text: lines.join('\n') };
}

/** `runs`: newest first, with outcome, degraded or failure reason, outputs and tokens. */
export function runsView(entries: readonly RunEntry[], now: number): CommandResult {
  if (entries.length === 0) return { data: [], text: 'No runs recorded yet.' };
  const lines = entries.map((r) => {
    const outputs = `${r.published} published${r.suppressed ? `, ${r.suppressed} suppressed` : ''}${r.held ? `, ${r.held} held for review` : ''}`;
    const tokens = r.tokens.calls ? `${r.tokens.calls} model call(s), ${r.tokens.input} in / ${r.tokens.output} out${r.tokens.cacheRead ? ` / ${r.tokens.cacheRead} cached` : ''} tokens` : 'no model calls';
    const status = r.degraded ? 'degraded' : r.status;
    return [
      `${r.startedAt} (${relative(Date.parse(r.startedAt), now)})  ${r.agentId.padEnd(12)} ${status.padEnd(9)} task ${r.taskId}`,
      `    run by ${r.trigger ?? 'schedule'}; ${outputs}; ${tokens}${r.detail ? `\n    ${r.detail}` : ''}`,
    ].join('\n');
  });
  return { data: entries, text: lines.join('\n') };
}

/** `memory list <namespace>`: its live entries, in key order. */
export function memoryListView(namespace: string, entries: readonly MemoryEntry[] | undefined, now: number): CommandResult {
  if (!entries) throw new UsageError(`No agent of this pipeline writes namespace '${namespace}': check agents[].memory.writes in the config`);
  const text = entries.length
    ? entries
        .map((e) => `${e.key.padEnd(32)} by ${e.updatedBy.padEnd(12)} ${new Date(e.updatedAt).toISOString()} (${relative(e.updatedAt, now)})  seq ${e.sequence}${e.pinned ? '  pinned' : ''}`)
        .join('\n')
    : `Namespace '${namespace}' has no entries.`;
  return { data: entries.map(withIsoTime), text };
}
