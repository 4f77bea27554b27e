import { definePipeline } from 'nightshift';

/**
 * A small pipeline that is not the reference one, for rehearsing faults: a scout in Berlin feeds an editor on UTC,
 * whose work a publisher in Tokyo posts; each runs on its schedules and on every output of the one before. Every agent runs `examples/agents/note-taker.ts`.
 *
 *   npm start -- --config examples/newsroom.config.ts --inject loop:scout@08:00[Europe/Berlin]
 */
export default definePipeline({
  name: 'newsroom',
  stage: 'dev',
  agents: [
    {
      id: 'scout',
      entry: 'examples/agents/note-taker.ts',
      memory: { reads: ['notes'], writes: ['notes'] },
      schedules: [{ cron: '0 6 * * *', timeZone: 'Europe/Berlin' }],
      breaker: { maxOutputs: 3, windowMinutes: 30 },
    },
    {
      id: 'editor',
      entry: 'examples/agents/note-taker.ts',
      memory: { reads: ['notes'], writes: ['notes'] },
      upstream: ['scout'],
      triggers: [{ outputsOf: 'scout' }], // and once for each scouted story
      schedules: [{ cron: '30 6,12 * * *', timeZone: 'UTC' }],
      heartbeat: { intervalMinutes: 5, staleAfterMinutes: 20 },
      breaker: { maxOutputs: 4, windowMinutes: 60 },
    },
    {
      id: 'publisher',
      entry: 'examples/agents/note-taker.ts',
      memory: { reads: ['notes'], writes: ['notes'] },
      upstream: ['editor'],
      triggers: [{ outputsOf: 'editor' }], // and once for each edited story
      schedules: [{ cron: '0 16 * * *', timeZone: 'Asia/Tokyo' }, { cron: '0 22 * * *', timeZone: 'Asia/Tokyo' }],
      breaker: { maxOutputs: 2, windowMinutes: 60 },
    },
  ],
  breaker: { maxOutputs: 20, windowMinutes: 60 },
});
