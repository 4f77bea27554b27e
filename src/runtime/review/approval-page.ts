import type { Clock } from '../clock.ts';
import { type ReviewDeps, decideHeld } from './decisions.ts';
import type { HeldOutput } from './held-outputs.ts';
import type { LinkSigner } from './links.ts';

/**
 * The approval page a digest's link opens, served by the approval function (a Lambda function URL) and, locally, by
 * `nightshift approvals --local`. A GET verifies the link and shows the output with one button; only the POST that
 * button sends decides, so a mail scanner or a link preview that fetches the link decides nothing. The token is
 * checked again on the POST, and the decision is the held output's conditional move: a second use of the link, or of
 * the other link of the same output, finds it decided.
 */

export interface ApprovalRequest {
  readonly method: string;
  /** The link's token (`?t=` on a GET, the form's `t` on the POST). */
  readonly token: string | undefined;
  /** Who opened it, as the server sees it (the source IP), recorded with the decision. */
  readonly source: string;
}

export interface ApprovalResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface ApprovalPageDeps {
  readonly signer: LinkSigner;
  readonly review: ReviewDeps;
  readonly clock: Clock;
  /** Names the pipeline on the page, e.g. `nightshift (dev)`. */
  readonly label: string;
}

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // The token is in the URL: never cached, never sent on as a referrer, never framed; the page runs no script.
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
};

export async function approvalPage(deps: ApprovalPageDeps, request: ApprovalRequest): Promise<ApprovalResponse> {
  const method = request.method.toUpperCase();
  if (method !== 'GET' && method !== 'POST') return page(405, 'Not allowed', '<p>This page takes a link from the digest.</p>');
  const verified = deps.signer.verify(request.token, deps.clock.now());
  if (!verified.ok) return page(403, 'Link refused', `<p>${escape(verified.why)} Nothing was decided.</p>`);
  const { agentId, outputId, action } = verified.claim;
  const output = await deps.review.held.get(agentId, outputId);
  if (!output) return page(404, 'Nothing held', `<p>No held output ${escape(outputId)} of ${escape(agentId)}.</p>`);
  const verb = action === 'approve' ? 'Approve and publish' : 'Reject';
  if (method === 'GET') {
    if (output.status !== 'held') return page(409, `Already ${output.status}`, `${describe(deps, output)}<p>${escape(decided(output))} Nothing more to decide.</p>`);
    const form = `<form method="post"><input type="hidden" name="t" value="${escape(request.token!)}"><button type="submit" id="confirm">${verb}</button></form>`;
    return page(200, `${verb}?`, `${describe(deps, output)}<p>Nothing is decided until you press the button.</p>${form}`);
  }
  const result = await decideHeld(deps.review, agentId, outputId, { action, by: `approval link (${request.source.slice(0, 100)})` });
  const title = result.outcome === 'published' ? 'Published' : result.outcome === 'rejected' ? 'Rejected' : result.outcome === 'approved' ? 'Approved, not published' : 'Nothing decided';
  const status = result.outcome === 'published' || result.outcome === 'rejected' ? 200 : 409;
  return page(status, title, `${describe(deps, result.output ?? output)}<p id="outcome">${escape(result.detail)}</p>`);
}

function describe(deps: ApprovalPageDeps, output: HeldOutput): string {
  const rows: [string, string][] = [
    ['Pipeline', deps.label],
    ['Agent', output.agentId],
    ['Output', output.outputId],
    ['Held at', new Date(output.heldAt).toISOString()],
    ['Why', output.reasons.join('; ')],
    ['Expires', `${new Date(output.expiresAt).toISOString()} (then ${output.onExpiry})`],
    ['Status', output.status],
  ];
  const table = rows.map(([k, v]) => `<tr><th>${k}</th><td>${escape(v)}</td></tr>`).join('');
  return `<table>${table}</table><pre id="payload">${escape(JSON.stringify(output.payload, null, 2) ?? 'null')}</pre>`;
}

function decided(output: HeldOutput): string {
  const d = output.decision;
  if (!d) return `It is ${output.status}.`;
  return `It was ${d.action === 'expire' ? 'left to expire' : `${d.action}d by ${d.by}`} at ${new Date(d.at).toISOString()}${d.reason ? ` (${d.reason})` : ''}; it is ${output.status}.`;
}

function page(status: number, title: string, body: string): ApprovalResponse {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escape(title)}</title><style>body{font:16px system-ui;margin:2em auto;max-width:42em;padding:0 1em}th{text-align:left;padding-right:1em;vertical-align:top}pre{background:#f4f4f4;padding:1em;overflow:auto}button{font-size:1.1em;padding:.5em 1.2em}</style></head><body><h1>${escape(title)}</h1>${body}</body></html>`;
  return { status, headers: HEADERS, body: html };
}

export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
