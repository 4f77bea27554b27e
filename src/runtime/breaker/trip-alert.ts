import type { Alert } from './alerts.ts';
import type { Trip } from './breaker-state.ts';

/** What the one alert of a trip says: the pipeline, when, the agent and why, the evidence, what was halted, how to resume. */
export function tripAlert(
  trip: Trip,
  context: { readonly pipelineLabel: string; readonly resetCommand: string; readonly at: number; readonly reopened: boolean; readonly halted: readonly string[]; readonly haltError: unknown },
): Alert {
  const { pipelineLabel, resetCommand, at, reopened, halted, haltError } = context;
  const lines = [
    `Pipeline ${pipelineLabel} was halted by its circuit breaker at ${new Date(at).toISOString()}${reopened ? ' (the half-open probe tripped it again)' : ''}.`,
    '',
    `Agent: ${trip.agentId}`,
    `Reason: ${trip.reason} — ${trip.detail}`,
  ];
  if (trip.recentOutputIds?.length) lines.push(`Last outputs: ${trip.recentOutputIds.slice(-10).join(', ')}`);
  lines.push(
    '',
    'Every agent now refuses to run and to publish.',
    haltError ? `Disabling the schedules FAILED (${String(haltError)}); agents still refuse to run.` : `Schedules disabled: ${halted.length ? halted.join(', ') : 'none were enabled'}.`,
    '',
    `After fixing the cause, resume with: ${resetCommand}`,
  );
  return { subject: `[${pipelineLabel}] circuit breaker OPEN: ${trip.agentId} (${trip.reason})`, message: lines.join('\n') };
}
