import type { AgentContext } from 'nightshift';
import { plan as planShape } from '../shared/memory-shapes.ts';

const TOPICS = ['production patterns at 3am', 'memory stewards', 'fencing tokens', 'circuit breakers', 'lazy context'];

/** The house rules every writing agent's context starts with (pinned: retrieval always loads them first). */
const HOUSE_RULES = {
  'house-style': 'House style: plain English, short sentences, no hype. Every claim about a failure names the guardrail that stops it.',
  disclosure: 'Disclosure: articles drafted by agents say so in their last line. Never publish numbers nobody measured.',
};

/**
 * The planner (the field report's "cron scheduler agent"): asks its model for the next slot's angle, records the
 * plan in memory, where the writer reads it, and keeps the pinned house rules in place.
 */
export async function work(ctx: AgentContext): Promise<string> {
  const day = ctx.invocation.scheduledTime.slice(0, 10);
  const previous = await ctx.memory.read('plans', 'current', planShape);
  const index = (previous?.index ?? -1) + 1;
  const topic = TOPICS[index % TOPICS.length]!;
  if (!(await ctx.memory.get('rules', 'house-style'))) {
    await ctx.memory.submit(
      Object.entries(HOUSE_RULES).map(([key, value]) => ({ op: 'put' as const, namespace: 'rules', key, value, pinned: true, tags: ['rules'] })),
    );
  }
  const context = await ctx.retrieve({ namespaces: ['rules', 'plans', 'drafts'], query: topic, budgetTokens: 600 });
  const angle = await ctx.model.converse({
    system: 'You plan a small engineering blog. Answer with one sentence: the angle for the next article.',
    task: `Plan the next article on '${topic}' for ${day}, building on what the drafts already covered.`,
    context,
    maxTokens: 120,
  });
  const plan = { index, topic, angle: angle.text, day, slot: ctx.invocation.scheduledTime };
  await ctx.memory.put('plans', 'current', plan, { tags: [topic] });
  await ctx.emit({ kind: 'plan', topic: plan.topic, slot: plan.slot });
  return `planned '${plan.topic}'`;
}

