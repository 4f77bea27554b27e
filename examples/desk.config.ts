import { definePipeline } from 'nightshift';

/**
 * A help desk run by events, not the clock: each ticket your ticket system puts on the pipeline's bus runs the triage
 * agent once, each triage it publishes runs the reply agent once, and only the evening digest has a schedule.
 *
 *   npm start -- --config examples/desk.config.ts --hours 2
 *   npx nightshift send-event --config examples/desk.config.ts --local \
 *     --source tickets --detail-type 'Ticket opened' --detail '{"ticket":"T-1"}'
 */
export default definePipeline({
  name: 'desk',
  stage: 'dev',
  agents: [
    {
      id: 'triage',
      entry: 'examples/agents/note-taker.ts',
      memory: { reads: ['notes'], writes: ['notes'] },
      triggers: [{ event: { source: ['tickets'], detailType: ['Ticket opened'] } }],
      breaker: { maxOutputs: 20, windowMinutes: 60 },
    },
    {
      id: 'reply',
      entry: 'examples/agents/note-taker.ts',
      memory: { reads: ['notes'], writes: ['notes'] },
      upstream: ['triage'],
      triggers: [{ outputsOf: 'triage' }],
      breaker: { maxOutputs: 20, windowMinutes: 60 },
    },
    {
      id: 'digest',
      entry: 'examples/agents/note-taker.ts',
      memory: { reads: ['notes'], writes: ['notes'] },
      schedules: [{ cron: '0 18 * * *' }],
      breaker: { maxOutputs: 2, windowMinutes: 60 },
    },
  ],
  breaker: { maxOutputs: 60, windowMinutes: 60 },
});
