import { definePipeline } from 'nightshift';

/**
 * The reference pipeline from the field report: five agents, twelve cron schedules, a content pipeline that runs
 * with nobody awake. Cron is five-field crontab (`minute hour day-of-month month day-of-week`) in each schedule's
 * time zone. Copy this file and edit it for your own pipeline; `cdk synth -c config=path/to/yours.ts` picks it up.
 */
export default definePipeline({
  name: 'nightshift',
  stage: 'dev',
  agents: [
    {
      id: 'planner',
      description: 'Plans the next slots of work (the report’s cron scheduler agent)',
      entry: 'lambdas/agents/planner/handler.ts',
      memory: { reads: ['plans', 'rules', 'drafts'], writes: ['plans', 'rules'] },
      schedules: [
        { cron: '0 1 * * *', timeZone: 'UTC' },
        { cron: '0 13 * * *', timeZone: 'UTC' },
      ],
      breaker: { maxOutputs: 10, windowMinutes: 60 },
      tokenBudgetPerDay: 30_000,
      model: { id: 'anthropic.claude-3-5-haiku-20241022-v1:0', maxTokens: 200 },
    },
    {
      id: 'writer',
      description: 'Drafts articles from the plan',
      entry: 'lambdas/agents/writer/handler.ts',
      memory: { reads: ['plans', 'rules', 'drafts'], writes: ['drafts'] },
      schedules: [
        { cron: '15 2 * * *', timeZone: 'UTC' },
        { cron: '15 8 * * *', timeZone: 'UTC' },
        { cron: '15 14 * * *', timeZone: 'UTC' },
        { cron: '15 20 * * *', timeZone: 'UTC' },
      ],
      upstream: ['planner'],
      triggers: [{ outputsOf: 'planner' }], // and once for each plan the planner publishes
      breaker: { maxOutputs: 12, windowMinutes: 60 },
      tokenBudgetPerDay: 200_000,
      // A cross-region inference profile: the role may invoke it and the model in the US destination regions.
      model: { id: 'us.anthropic.claude-3-7-sonnet-20250219-v1:0', maxTokens: 2_048 },
      timeoutSeconds: 600,
      lock: { leaseMinutes: 15 },
    },
    {
      id: 'seo',
      description: 'Optimises drafts for search',
      entry: 'lambdas/agents/seo/handler.ts',
      memory: { reads: ['drafts', 'rules'], writes: ['drafts'] },
      schedules: [
        { cron: '45 2 * * *', timeZone: 'UTC' },
        { cron: '45 14 * * *', timeZone: 'UTC' },
      ],
      upstream: ['writer'],
      triggers: [{ outputsOf: 'writer' }], // and once for each draft
      breaker: { maxOutputs: 12, windowMinutes: 60 },
      tokenBudgetPerDay: 50_000,
      model: { id: 'anthropic.claude-3-5-haiku-20241022-v1:0', maxTokens: 300 },
    },
    {
      id: 'community',
      description: 'Posts finished articles to the community channels',
      entry: 'lambdas/agents/community/handler.ts',
      memory: { reads: ['drafts'], writes: ['community'] },
      schedules: [
        { cron: '30 3 * * *', timeZone: 'UTC' },
        { cron: '30 15 * * *', timeZone: 'UTC' },
        { cron: '0 9 * * 1-5', timeZone: 'America/New_York' },
      ],
      upstream: ['writer', 'seo'],
      triggers: [{ outputsOf: 'seo' }], // and once for each reviewed draft
      breaker: { maxOutputs: 5, windowMinutes: 60 },
      tokenBudgetPerDay: 20_000,
      model: { id: 'anthropic.claude-3-5-haiku-20241022-v1:0', maxTokens: 100 },
      // The bot token lives in SSM (create it before deploying); only its name reaches the template.
      secrets: { discordToken: { parameter: '/nightshift/dev/discord-bot-token', local: 'local-only-token' } },
      environment: { DISCORD_CHANNEL_ID: '1100000000000000000' },
    },
    {
      id: 'analyst',
      description: 'Summarises the day’s output and engagement',
      entry: 'lambdas/agents/analyst/handler.ts',
      memory: { reads: ['drafts', 'community', 'plans'], writes: ['reports'] },
      schedules: [{ cron: '0 23 * * *', timeZone: 'UTC' }],
      upstream: ['community', 'seo'],
      heartbeat: { intervalMinutes: 5, staleAfterMinutes: 30 },
      breaker: { maxOutputs: 5, windowMinutes: 60 },
      tokenBudgetPerDay: 50_000,
      model: { id: 'anthropic.claude-3-5-haiku-20241022-v1:0', maxTokens: 400 },
    },
  ],
  breaker: { maxOutputs: 60, windowMinutes: 60 },
  // The planner's house rules go first into every reader's context; nowhere else may an agent pin.
  pinnable: ['rules'],
  steward: { batchSize: 10, maxReceiveCount: 5, timeoutSeconds: 30 },
  alerts: {
    emails: ['oncall@example.com'],
    // An SSM SecureString holding the pager's webhook URL, created before `cdk deploy` (see README, Deploy).
    pagerWebhookParameter: '/nightshift/dev/pager-webhook-url',
  },
});
