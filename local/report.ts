import { NightshiftError } from '../src/errors.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { SimulationResult } from './recorder.ts';

/**
 * One self-contained HTML page for a local run: Chart.js is inlined, so the file opens offline. It shows, with UTC
 * on every axis: per agent, the outputs in the breaker's sliding window against that agent's limit N, with the trip
 * marked; the breaker's state; heartbeat ages against each agent's staleness threshold; memory updates submitted
 * and applied per five minutes; context tokens loaded lazily against injecting all memory looked at; the alert as
 * it was sent (schedules disabled, the reset command); and the event timeline.
 */
export function writeReport(path: string, result: SimulationResult): void {
  writeFileSync(path, renderReport(result));
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];

export function renderReport(result: SimulationResult): string {
  const chartJs = readFileSync(join(dirname(chartJsEntry()), 'chart.umd.min.js'), 'utf8');
  const { timeline } = result;
  const labels = timeline.at.map((t) => `${new Date(t).toISOString().slice(11, 16)}Z`);
  const agents = Object.keys(result.agents);
  const windowSamples = (windowMinutes: number) => Math.max(1, Math.round(windowMinutes / 5));
  const windowMinutes = result.windowMinutes;
  const windowed = (series: number[], agentId: string) => {
    const size = windowSamples(windowMinutes[agentId] ?? 60);
    return series.map((_, i) => series.slice(Math.max(0, i - size + 1), i + 1).reduce((a, b) => a + b, 0));
  };
  const tripIndex = timeline.breaker.findIndex((s) => s !== 'CLOSED');
  const trip = result.alerts[0];
  const highest = Math.max(1, ...agents.map((id) => result.limits[id] ?? 0), ...agents.flatMap((id) => windowed(timeline.outputs[id] ?? [], id)));
  const outputDatasets = [
    ...agents.flatMap((id, i) => [
      { label: `${id} (outputs in last ${windowMinutes[id]} min)`, data: windowed(timeline.outputs[id] ?? [], id), borderColor: COLORS[i % COLORS.length], stepped: true },
      { label: `${id} limit N=${result.limits[id]}`, data: labels.map(() => result.limits[id]), borderColor: COLORS[i % COLORS.length], borderDash: [6, 4], pointRadius: 0, borderWidth: 1 },
    ]),
    // The trip, as a bar at the first sample the breaker was open.
    ...(tripIndex >= 0 ? [{ type: 'bar', label: `breaker tripped ${trip ? new Date(trip.at).toISOString().slice(11, 19) : labels[tripIndex]}Z`, data: labels.map((_, i) => (i === tripIndex ? highest : null)), backgroundColor: '#dc2626', barThickness: 3 }] : []),
  ];
  // Ages grow without bound while an agent is silent (a halted pipeline): the axis stops at three times the
  // largest threshold, so the thresholds stay readable; longer ages are drawn at the cap.
  const cap = 3 * Math.max(1, ...agents.map((id) => result.staleAfterMinutes[id] ?? 0));
  const heartbeatDatasets = agents.flatMap((id, i) => [
    { label: id, data: (timeline.heartbeatAgeMinutes[id] ?? []).map((age) => (age === null ? null : Math.min(age, cap))), borderColor: COLORS[i % COLORS.length], spanGaps: false },
    { label: `${id} stale after ${result.staleAfterMinutes[id]} min`, data: labels.map(() => result.staleAfterMinutes[id]), borderColor: COLORS[i % COLORS.length], borderDash: [6, 4], pointRadius: 0, borderWidth: 1 },
  ]);
  const burst = burstAroundTrip(result, agents);
  const anyOf = (series: readonly (number | null)[][]) => series.some((values) => values.some((v) => v !== null && v > 0));
  const charts: Record<string, Chart> = {
    outputs: {
      data: { labels, datasets: outputDatasets },
      empty: anyOf(agents.map((id) => timeline.outputs[id] ?? [])) ? undefined : 'No agent published an output in this run.',
    },
    ...(burst
      ? {
          burst: {
            type: 'bar',
            data: {
              labels: burst.labels,
              datasets: burst.series.map(({ agentId, perMinute }) => ({ label: `${agentId} outputs published per minute`, data: perMinute, backgroundColor: COLORS[agents.indexOf(agentId) % COLORS.length] })),
            },
            options: { scales: { x: { stacked: true, title: { display: true, text: 'UTC, one bar a minute; the trip minute is marked' } }, y: { stacked: true, beginAtZero: true } } },
            empty: burst.series.length ? undefined : 'Nothing was published in the minutes around the trip: the trip came from a budget or a window with no recent output.',
          },
        }
      : {}),
    breaker: { data: { labels, datasets: [{ label: 'breaker open (1 = OPEN)', data: timeline.breaker.map((s) => (s === 'CLOSED' ? 0 : 1)), borderColor: '#dc2626', stepped: true, fill: true }] } },
    heartbeats: {
      data: { labels, datasets: heartbeatDatasets },
      options: { scales: { y: { min: 0, max: cap, title: { display: true, text: `minutes (ages over ${cap} drawn at ${cap})` } } } },
      empty: agents.some((id) => (timeline.heartbeatAgeMinutes[id] ?? []).some((age) => age !== null)) ? undefined : 'No agent beat in this run: no run started.',
    },
    updates: {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'memory updates submitted by agents (per 5 min)', data: timeline.updates.submitted, backgroundColor: '#2563eb' },
          { label: 'applied by the steward (per 5 min)', data: timeline.updates.applied, backgroundColor: '#16a34a' },
        ],
      },
      empty: anyOf([timeline.updates.submitted, timeline.updates.applied]) ? undefined : 'No agent submitted a memory update in this run.',
    },
    tokens: {
      data: {
        labels,
        datasets: [
          { label: 'context tokens loaded lazily (cumulative)', data: timeline.contextTokens.loaded, borderColor: '#16a34a', stepped: true },
          { label: 'tokens if all memory looked at were injected (cumulative)', data: timeline.contextTokens.full, borderColor: '#dc2626', stepped: true, borderDash: [6, 4] },
        ],
      },
      empty: anyOf([timeline.contextTokens.full]) ? undefined : 'No agent retrieved context in this run (none called ctx.retrieve).',
    },
  };
  const events = result.events
    .map((e) => `<tr class="${e.kind}"><td>${new Date(e.at).toISOString().slice(0, 19).replace('T', ' ')}Z</td><td>${escape(e.agentId ?? '')}</td><td>${e.kind}</td><td>${escape(e.detail)}</td></tr>`)
    .join('\n');
  const checks = result.checks
    .map((c) => `<li class="${!c.ok ? 'fail' : c.status === 'PASS' ? 'pass' : 'idle'}">${c.status} ${escape(c.name)}: ${escape(c.detail)}</li>`)
    .join('\n');
  const alerts = result.alerts
    .map((a) => `<h3>${new Date(a.at).toISOString().replace('.000', '')}: ${escape(a.subject)}</h3><pre>${escape(a.message)}</pre>`)
    .join('\n');
  const section = (id: string, title: string, height: number) =>
    `<h2>${escape(title)}</h2>${charts[id]?.empty ? `<p class="empty" id="${id}-empty">${escape(charts[id]!.empty!)}</p>` : ''}<div class="chart" style="height:${height}px"><canvas id="${id}"></canvas></div>`;
  const tokensCut = timeline.contextTokens.full.at(-1) ? 1 - (timeline.contextTokens.loaded.at(-1) ?? 0) / timeline.contextTokens.full.at(-1)! : 0;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nightshift local run: ${result.scenario}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2rem;max-width:1100px;color:#111}
h1{font-size:1.4rem}.chart{height:280px;margin:1rem 0 2rem}
table{border-collapse:collapse;width:100%;font-size:12px}td{border-bottom:1px solid #eee;padding:2px 6px;vertical-align:top}
tr.alert td,tr.halted td,tr.crash td,tr.fail td{color:#b91c1c}tr.fault td{color:#7c3aed;font-weight:600}tr.degraded td{color:#b45309}.pass{color:#15803d}.fail{color:#b91c1c}.idle{color:#6b7280}.empty{color:#6b7280;font-style:italic}
#alerts pre{background:#fef2f2;border-left:4px solid #dc2626;padding:.5rem 1rem;white-space:pre-wrap}
</style>
<script>${chartJs}</script></head>
<body>
<h1>Nightshift local run: scenario <code>${result.scenario}</code></h1>
<p id="faults">Faults injected: ${result.faults.length ? result.faults.map((f) => `<code>${escape(f)}</code>`).join(', ') : 'none'}</p>
<p>${new Date(result.start).toISOString()} to ${new Date(result.end).toISOString()} (simulated, UTC) · breaker ${result.breaker} · alerts ${result.alerts.length} · runs ${result.totals.completed} · degraded ${result.totals.degraded} · halted ${result.totals.halted} · outputs ${result.totals.published} published, ${result.totals.suppressed} suppressed as duplicates</p>
<p id="trip">${trip ? `Breaker tripped at ${new Date(trip.at).toISOString()}: ${escape(trip.subject)}` : 'The breaker did not trip.'}</p>
<ul id="checks">${checks}</ul>
${section('outputs', "Outputs in the breaker's sliding window, per agent, against its limit", 280)}
${burst ? section('burst', `The burst, minute by minute, around the trip at ${burst.tripMinute}`, 240) : `<p id="burst-none">The breaker did not trip: no burst to show minute by minute.</p>`}
${section('breaker', 'Breaker state', 120)}
${section('heartbeats', "Heartbeat age (minutes since each agent's last beat) against its staleness threshold", 280)}
${section('updates', 'Memory updates: submitted by agents and applied by the steward, per five minutes', 200)}
${section('tokens', `Context tokens: lazy retrieval against injecting everything (${Math.round(tokensCut * 100)}% cut; the lines meet while all memory fits the budgets)`, 220)}
<h2>Alerts, as sent</h2><section id="alerts">${alerts || '<p>None.</p>'}</section>
<h2>Timeline (UTC)</h2><table id="timeline"><tbody>${events}</tbody></table>
<script>
const charts = ${JSON.stringify(charts)};
const base = { animation: false, maintainAspectRatio: false, elements: { point: { radius: 0 } }, plugins: { legend: { labels: { boxWidth: 12 } } } };
window.nightshiftCharts = Object.entries(charts).map(([id, chart]) => new Chart(document.getElementById(id), {
  type: chart.type ?? 'line',
  data: chart.data,
  options: { ...base, ...chart.options, scales: { x: { title: { display: true, text: 'UTC' } }, ...chart.options?.scales } },
}));
</script>
</body></html>
`;
}

interface Chart {
  readonly type?: 'line' | 'bar';
  readonly data: { readonly labels: readonly string[]; readonly datasets: readonly object[] };
  readonly options?: { readonly scales?: object };
  /** Why the chart has nothing to show, said above it. */
  readonly empty?: string | undefined;
}

const MINUTE = 60_000;
/** Minutes shown either side of the trip in the burst chart. */
const BURST_MINUTES = 15;

/** Outputs published per minute per agent, from 15 minutes before the trip to 15 after; nothing without a trip. */
function burstAroundTrip(result: SimulationResult, agents: readonly string[]) {
  const trip = result.alerts[0]?.at;
  if (trip === undefined) return undefined;
  const tripMinute = Math.floor(trip / MINUTE);
  const minutes = Array.from({ length: 2 * BURST_MINUTES + 1 }, (_, i) => tripMinute - BURST_MINUTES + i);
  const hhmm = (minute: number) => `${new Date(minute * MINUTE).toISOString().slice(11, 16)}Z${minute === tripMinute ? ' trip' : ''}`;
  const series = agents
    .map((agentId) => ({
      agentId,
      perMinute: minutes.map((minute) => result.published.filter((p) => p.agentId === agentId && Math.floor(p.at / MINUTE) === minute).length),
    }))
    .filter(({ perMinute }) => perMinute.some((n) => n > 0));
  return { labels: minutes.map(hhmm), series, tripMinute: hhmm(tripMinute).replace(' trip', '') };
}

/** Chart.js, which only `--report` loads. */
function chartJsEntry(): string {
  try {
    return createRequire(import.meta.url).resolve('chart.js');
  } catch {
    throw new NightshiftError('--report draws its charts with Chart.js, which is not installed: npm install --save-dev chart.js');
  }
}

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
