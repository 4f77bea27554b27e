import { type PipelineInput, definePipeline } from 'nightshift';

const entry = 'examples/agents/announcer.ts';

/**
 * Outputs that wait for a person: a writer (hourly, on the hour) keeps a draft, and a poster (hourly, at half past)
 * announces it through its named publisher `post`. The poster's outputs are held when it runs degraded (its upstream
 * stale or failed), for a person to approve or reject; undecided, they are dropped after 6 hours.
 *
 *   npm start -- --config examples/review.config.ts --inject crash:writer@02:00 --inject fail:writer@03:00 --hours 5
 *   npx nightshift held --config examples/review.config.ts --local
 *   npx nightshift approvals --config examples/review.config.ts --local    # the page the digest's links open
 *   npm start -- --config examples/review.config.ts --inject crash:writer@02:00 --hours 5 --approve-after 30
 */
export function reviewedDesk(name = 'review', review: Partial<NonNullable<PipelineInput['agents'][number]['review']>> = {}) {
  return definePipeline({
    name,
    stage: 'test',
    agents: [
      { id: 'writer', entry, memory: { reads: ['desk'], writes: ['desk'] }, schedules: [{ cron: '0 * * * *' }], breaker: { maxOutputs: 5, windowMinutes: 60 } },
      {
        id: 'poster',
        entry,
        memory: { reads: ['desk'], writes: ['desk'] },
        upstream: ['writer'],
        schedules: [{ cron: '30 * * * *' }],
        breaker: { maxOutputs: 5, windowMinutes: 60 },
        review: { when: ['degraded'], expiresAfterHours: 6, ...review },
      },
    ],
    breaker: { maxOutputs: 40, windowMinutes: 60 },
    embeddings: false,
  } satisfies PipelineInput);
}

export default reviewedDesk();
