import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { SimulationResult } from './recorder';

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
  const chartJs = readFileSync(join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
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
  const heartbeatDatasets = agents.flatMap((id, i) => [
    { label: id, data: timeline.heartbeatAgeMinutes[id] ?? [], borderColor: COLORS[i % COLORS.length], spanGaps: false },
    { label: `${id} stale after ${result.staleAfterMinutes[id]} min`, data: labels.map(() => result.staleAfterMinutes[id]), borderColor: COLORS[i % COLORS.length], borderDash: [6, 4], pointRadius: 0, borderWidth: 1 },
  ]);
  const charts = {
    outputs: { labels, datasets: outputDatasets },
    heartbeats: { labels, datasets: heartbeatDatasets },
    updates: {
      labels,
      datasets: [
        { label: 'memory updates submitted (per 5 min)', data: timeline.updates.submitted, borderColor: '#2563eb', stepped: true },
        { label: 'applied by the steward (per 5 min)', data: timeline.updates.applied, borderColor: '#16a34a', stepped: true, borderDash: [4, 3] },
      ],
    },
    tokens: {
      labels,
      datasets: [
        { label: 'context tokens loaded lazily (cumulative)', data: timeline.contextTokens.loaded, borderColor: '#16a34a', stepped: true },
        { label: 'tokens if all memory looked at were injected (cumulative)', data: timeline.contextTokens.full, borderColor: '#dc2626', stepped: true, borderDash: [6, 4] },
      ],
    },
    breaker: { labels, datasets: [{ label: 'breaker open (1 = OPEN)', data: timeline.breaker.map((s) => (s === 'CLOSED' ? 0 : 1)), borderColor: '#dc2626', stepped: true, fill: true }] },
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
  const tokensCut = timeline.contextTokens.full.at(-1) ? 1 - (timeline.contextTokens.loaded.at(-1) ?? 0) / timeline.contextTokens.full.at(-1)! : 0;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nightshift local run: ${result.scenario}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2rem;max-width:1100px;color:#111}
h1{font-size:1.4rem}.chart{height:280px;margin:1rem 0 2rem}
table{border-collapse:collapse;width:100%;font-size:12px}td{border-bottom:1px solid #eee;padding:2px 6px;vertical-align:top}
tr.alert td,tr.halted td,tr.crash td,tr.fail td{color:#b91c1c}tr.fault td{color:#7c3aed;font-weight:600}tr.degraded td{color:#b45309}.pass{color:#15803d}.fail{color:#b91c1c}.idle{color:#6b7280}
#alerts pre{background:#fef2f2;border-left:4px solid #dc2626;padding:.5rem 1rem;white-space:pre-wrap}
</style>
<script>${chartJs}</script></head>
<body>
<h1>Nightshift local run: scenario <code>${result.scenario}</code></h1>
<p id="faults">Faults injected: ${result.faults.length ? result.faults.map((f) => `<code>${escape(f)}</code>`).join(', ') : 'none'}</p>
<p>${new Date(result.start).toISOString()} to ${new Date(result.end).toISOString()} (simulated, UTC) · breaker ${result.breaker} · alerts ${result.alerts.length} · runs ${result.totals.completed} · degraded ${result.totals.degraded} · halted ${result.totals.halted} · outputs ${result.totals.published} published, ${result.totals.suppressed} suppressed as duplicates</p>
<p id="trip">${trip ? `Breaker tripped at ${new Date(trip.at).toISOString()}: ${escape(trip.subject)}` : 'The breaker did not trip.'}</p>
<ul id="checks">${checks}</ul>
<h2>Outputs in the breaker's sliding window, per agent, against its limit</h2><div class="chart"><canvas id="outputs"></canvas></div>
<h2>Breaker state</h2><div class="chart" style="height:120px"><canvas id="breaker"></canvas></div>
<h2>Heartbeat age (minutes since each agent's last beat) against its staleness threshold</h2><div class="chart"><canvas id="heartbeats"></canvas></div>
<h2>Memory updates submitted and applied, per five minutes</h2><div class="chart" style="height:180px"><canvas id="updates"></canvas></div>
<h2>Context tokens: lazy retrieval against injecting everything (${Math.round(tokensCut * 100)}% cut; the lines meet while all memory fits the budgets)</h2><div class="chart" style="height:220px"><canvas id="tokens"></canvas></div>
<h2>Alerts, as sent</h2><section id="alerts">${alerts || '<p>None.</p>'}</section>
<h2>Timeline (UTC)</h2><table id="timeline"><tbody>${events}</tbody></table>
<script>
const data = ${JSON.stringify(charts)};
const options = { animation: false, maintainAspectRatio: false, elements: { point: { radius: 0 } }, plugins: { legend: { labels: { boxWidth: 12 } } }, scales: { x: { title: { display: true, text: 'UTC' } } } };
window.nightshiftCharts = Object.entries(data).map(([id, chart]) => new Chart(document.getElementById(id), { type: 'line', data: chart, options }));
</script>
</body></html>
`;
}

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
