import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rewriteQuery, spelling } from '../../../src/runtime/memory/term-variants.ts';

const STOP = new Set(['the', 'for', 'a', 'of', 'on', 'to', 'and']);
const isStop = (w: string) => STOP.has(w);
const vocabulary = new Set(['kubernetes', 'sitemap', 'seo', 'optimization', 'moderator', 'postgres', 'postmortem', 'oncall', 'internationalization', 'invoice', 'queue']);
const rewrite = (query: string) => rewriteQuery(query.split(' '), vocabulary, isStop);

describe('term variants', () => {
  it.each([
    ['upgrade the k8s nodes', 'kubernetes'],
    ['fix the site map', 'sitemap'],
    ['search engine optimisation plan', 'seo'],
    ['cost optimisation', 'optimization'],
    ['ask a mod', 'moderator'],
    ['postgresql vacuum', 'postgres'],
    ['write the post mortem', 'postmortem'],
    ['the on-call rota', 'oncall'],
    ['i18n of the app', 'internationalization'],
  ])('%s → %s', (query, expected) => {
    const { words, rewrites } = rewrite(query);
    expect(words).toContain(expected);
    expect(rewrites.some((r) => r.to.includes(expected))).toBe(true);
  });

  it('leaves alone words memory uses, stop words, and words with no form in memory', () => {
    expect(rewrite('the invoice queue for weather').words).toEqual(['the', 'invoice', 'queue', 'for', 'weather']);
    expect(rewrite('the invoice queue for weather').rewrites).toEqual([]);
  });

  it('never drops a word memory uses, whatever surrounds it', () => {
    const words = fc.constantFrom(...vocabulary, 'the', 'for', 'k8s', 'site', 'map', 'banana', 'post', 'mortem', 'a11y');
    fc.assert(
      fc.property(fc.array(words, { minLength: 1, maxLength: 8 }), (query) => {
        const out = rewriteQuery(query, vocabulary, isStop).words.join(' ');
        for (const w of query) if (vocabulary.has(w)) expect(out).toContain(w);
      }),
    );
  });

  it('spells British and American forms, and hyphenated ones, the same', () => {
    expect(spelling('optimisation')).toBe(spelling('optimization'));
    expect(spelling('colour')).toBe(spelling('color'));
    expect(spelling('centre')).toBe(spelling('center'));
    expect(spelling('acknowledgement')).toBe(spelling('acknowledgment'));
    expect(spelling('on-call')).toBe(spelling('oncall'));
    expect(spelling('invoice')).not.toBe(spelling('invoices'));
  });
});
