import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as z from 'zod/mini';

/**
 * The digest's approve and reject links: `<approval page>?t=<token>`, the token a decision on one held output,
 * signed with HMAC-SHA256 under a key only the watch (which writes digests) and the approval function (which
 * serves the page) can read. A token names its agent, output, action and expiry; a changed byte fails the
 * signature. It is single-use because the decision is: the held output moves on once, and a second use of either
 * link finds it decided. Opening a link only shows the output and asks for a confirming click (a POST), so a mail
 * scanner that follows links decides nothing.
 */

export type LinkAction = 'approve' | 'reject';

export interface LinkClaim {
  readonly agentId: string;
  readonly outputId: string;
  readonly action: LinkAction;
  /** Epoch ms after which the link decides nothing (at most the output's own expiry). */
  readonly expiresAt: number;
}

const claimSchema = z.object({
  a: z.string().check(z.minLength(1), z.maxLength(40)),
  o: z.string().check(z.minLength(1), z.maxLength(300)),
  d: z.enum(['approve', 'reject']),
  e: z.int(),
  n: z.string().check(z.maxLength(40)),
});

/** A link that does not verify: say why, to the person who opened it (never what the right signature was). */
export type Verified = { readonly ok: true; readonly claim: LinkClaim } | { readonly ok: false; readonly why: string };

/** The least key length accepted: 32 bytes. */
const MIN_KEY_BYTES = 32;

export class LinkSigner {
  private readonly key: Buffer;

  constructor(key: string | Buffer) {
    this.key = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
    if (this.key.length < MIN_KEY_BYTES) throw new RangeError(`a link signing key must have at least ${MIN_KEY_BYTES} bytes; this one has ${this.key.length}`);
  }

  /** A new random key (base64url), for a local state directory; deployed, Secrets Manager generates it. */
  static newKey(): string {
    return randomBytes(48).toString('base64url');
  }

  token(claim: LinkClaim): string {
    const body = Buffer.from(JSON.stringify({ a: claim.agentId, o: claim.outputId, d: claim.action, e: claim.expiresAt, n: randomBytes(6).toString('base64url') })).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** The link to `page` (the approval function's URL, or the local page) that carries `claim`. */
  link(page: string, claim: LinkClaim): string {
    const url = new URL(page);
    url.searchParams.set('t', this.token(claim));
    return url.toString();
  }

  verify(token: string | undefined, now: number): Verified {
    if (!token || token.length > 2_000) return { ok: false, why: 'This link carries no decision.' };
    const dot = token.indexOf('.');
    const body = token.slice(0, dot);
    const signature = token.slice(dot + 1);
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(signature);
    if (dot < 1 || given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, why: 'This link is not one the pipeline signed (it was changed or cut short).' };
    let parsed: z.output<typeof claimSchema>;
    try {
      parsed = claimSchema.parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
    } catch {
      return { ok: false, why: 'This link carries no decision.' };
    }
    if (now >= parsed.e) return { ok: false, why: `This link expired at ${new Date(parsed.e).toISOString()}.` };
    return { ok: true, claim: { agentId: parsed.a, outputId: parsed.o, action: parsed.d, expiresAt: parsed.e } };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
