import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { SimulationResult } from './recorder';

/**
 * One self-contained HTML page for a local run: Chart.js is inlined, so the file opens offline. It plots, per
 * agent, the outputs in the breaker's sliding window against that agent's limit N; heartbeat ages; context tokens
 * loaded lazily against injecting all memory; the steward's queue depth; and lists the event timeline (runs, degraded runs, halts, crashes, alerts).
 */
export function writeReport(path: string, result: SimulationResult): void {
  writeFileSync(path, renderReport(result));
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];

export function renderReport(result: SimulationResult): string {
  const chartJs = readFileSync(join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
  const { timeline } = result;
  const labels = timeline.at.map((t) => new Date(t).toISOString().slice(11, 16));
  const agents = Object.keys(result.agents);
  const windowSamples = (windowMinutes: number) => Math.max(1, Math.round(windowMinutes / 5));
  const windowMinutes = result.windowMinutes;
  const windowed = (series: number[], agentId: string) => {
    const size = windowSamples(windowMinutes[agentId] ?? 60);
    return series.map((_, i) => series.slice(Math.max(0, i - size + 1), i + 1).reduce((a, b) => a + b, 0));
  };
  const outputDatasets = agents.flatMap((id, i) => [
    { label: `${id} (outputs in last ${windowMinutes[id]} min)`, data: windowed(timeline.outputs[id] ?? [], id), borderColor: COLORS[i % COLORS.length], stepped: true },
    { label: `${id} limit N=${result.limits[id]}`, data: labels.map(() => result.limits[id]), borderColor: COLORS[i % COLORS.length], borderDash: [6, 4], pointRadius: 0, borderWidth: 1 },
  ]);
  const heartbeatDatasets = agents.map((id, i) => ({
    label: id,
    data: timeline.heartbeatAgeMinutes[id] ?? [],
    borderColor: COLORS[i % COLORS.length],
    spanGaps: false,
  }));
  const charts = {
    outputs: { labels, datasets: outputDatasets },
    heartbeats: { labels, datasets: heartbeatDatasets },
    queue: { labels, datasets: [{ label: 'memory queue depth', data: timeline.queueDepth, borderColor: '#4b5563', stepped: true }] },
    tokens: {
      labels,
      datasets: [
        { label: 'context tokens loaded lazily (cumulative)', data: timeline.contextTokens.loaded, borderColor: '#16a34a', stepped: true },
        { label: 'tokens if all memory looked at were injected', data: timeline.contextTokens.full, borderColor: '#dc2626', stepped: true },
      ],
    },
    breaker: { labels, datasets: [{ label: 'breaker open (1 = OPEN)', data: timeline.breaker.map((s) => (s === 'CLOSED' ? 0 : 1)), borderColor: '#dc2626', stepped: true, fill: true }] },
  };
  const events = result.events
    .map((e) => `<tr class="${e.kind}"><td>${new Date(e.at).toISOString().slice(0, 19).replace('T', ' ')}</td><td>${escape(e.agentId ?? '')}</td><td>${e.kind}</td><td>${escape(e.detail)}</td></tr>`)
    .join('\n');
  const checks = result.checks.map((c) => `<li class="${c.ok ? 'pass' : 'fail'}">${c.ok ? 'PASS' : 'FAIL'} ${escape(c.name)}: ${escape(c.detail)}</li>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nightshift local run: ${result.scenario}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2rem;max-width:1100px;color:#111}
h1{font-size:1.4rem}.chart{height:280px;margin:1rem 0 2rem}
table{border-collapse:collapse;width:100%;font-size:12px}td{border-bottom:1px solid #eee;padding:2px 6px;vertical-align:top}
tr.alert td,tr.halted td,tr.crash td,tr.fail td{color:#b91c1c}tr.fault td{color:#7c3aed;font-weight:600}tr.degraded td{color:#b45309}.pass{color:#15803d}.fail{color:#b91c1c}
</style>
<script>${chartJs}</script></head>
<body>
<h1>Nightshift local run: scenario <code>${result.scenario}</code></h1>
<p id="faults">Faults injected: ${result.faults.length ? result.faults.map((f) => `<code>${escape(f)}</code>`).join(', ') : 'none'}</p>
<p>${new Date(result.start).toISOString()} to ${new Date(result.end).toISOString()} (simulated) · breaker ${result.breaker} · alerts ${result.alerts.length} · runs ${result.totals.completed} · degraded ${result.totals.degraded} · halted ${result.totals.halted}</p>
<ul id="checks">${checks}</ul>
<h2>Outputs in the breaker's sliding window, per agent, against its limit</h2><div class="chart"><canvas id="outputs"></canvas></div>
<h2>Breaker state</h2><div class="chart" style="height:120px"><canvas id="breaker"></canvas></div>
<h2>Heartbeat age (minutes since each agent's last beat)</h2><div class="chart"><canvas id="heartbeats"></canvas></div>
<h2>Context tokens: lazy retrieval against injecting everything</h2><div class="chart" style="height:220px"><canvas id="tokens"></canvas></div>
<h2>Steward queue depth</h2><div class="chart" style="height:180px"><canvas id="queue"></canvas></div>
<h2>Timeline</h2><table id="timeline"><tbody>${events}</tbody></table>
<script>
const data = ${JSON.stringify(charts)};
const options = { animation: false, maintainAspectRatio: false, elements: { point: { radius: 0 } }, plugins: { legend: { labels: { boxWidth: 12 } } } };
window.nightshiftCharts = Object.entries(data).map(([id, chart]) => new Chart(document.getElementById(id), { type: 'line', data: chart, options }));
</script>
</body></html>
`;
}

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
