import type { ChatMessage } from '../types.js';
import { LEXICONS } from './lexicon.js';

/**
 * Hashed features of a conversation, shared by training and inference so they cannot drift apart:
 * word unigrams and bigrams, positional copies of the first and last words and of the first bigrams
 * (where the ask usually is), the first word of every later sentence, the words of the sentence with
 * the last question mark, a five-character prefix of longer words (a crude stem), character 4-grams
 * (which carry code punctuation, morphology and non-Latin scripts), domain-list features (lexicon.ts:
 * one shared feature per list a word or its stem is in, so unseen words of a domain still count), a
 * length bucket and a non-ASCII bucket. Earlier user turns add their unigrams under a separate hash
 * seed (context, weighted less by the model itself).
 */
export const FEATURE_BITS = 16;
export const FEATURE_DIM = 1 << FEATURE_BITS;
const MASK = FEATURE_DIM - 1;

/** Characters of the last user turn that are read: its start and its end (where the ask often is). */
const HEAD_CHARS = 700;
const TAIL_CHARS = 300;
const CONTEXT_CHARS = 300;

const SEED_WORD = 0x9e3779b1;
const SEED_BIGRAM = 0x85ebca77;
const SEED_CHAR = 0xc2b2ae3d;
const SEED_CONTEXT = 0x27d4eb2f;
const SEED_META = 0x165667b1;

function mix(h: number, v: number): number {
  h ^= v;
  h = Math.imul(h, 0x01000193);
  return h >>> 0;
}

function finalize(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c > 127;
}

/** '.', '!', '?', ':' or a newline. */
function isSentenceEnd(c: number): boolean {
  return c === 46 || c === 33 || c === 63 || c === 58 || c === 10;
}

/** Reusable output buffer: feature indices (may repeat) and how many are filled. */
export class FeatureBuffer {
  indices: Int32Array;
  length = 0;
  constructor(capacity = 4096) {
    this.indices = new Int32Array(capacity);
  }
  push(i: number): void {
    if (this.length === this.indices.length) {
      const next = new Int32Array(this.indices.length * 2);
      next.set(this.indices);
      this.indices = next;
    }
    this.indices[this.length++] = i;
  }
}

/** The text the classifier reads from a conversation: the last user turn (head and tail). */
export function focusText(messages: readonly ChatMessage[]): { main: string; context: string } {
  let last = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]!.role === 'user') {
      last = i;
      break;
    }
  }
  if (last < 0) last = messages.length - 1;
  const raw = last >= 0 ? (messages[last]!.content ?? '') : '';
  const main =
    raw.length > HEAD_CHARS + TAIL_CHARS ? raw.slice(0, HEAD_CHARS) + '\n' + raw.slice(raw.length - TAIL_CHARS) : raw;
  let context = '';
  for (let i = last - 1; i >= 0 && context.length < CONTEXT_CHARS; i--) {
    const m = messages[i]!;
    if (m.role === 'user' || m.role === 'system') context += ' ' + (m.content ?? '').slice(0, CONTEXT_CHARS);
  }
  return { main, context: context.slice(0, CONTEXT_CHARS) };
}

const SEED_HEAD = 0x3b9aca07;
/** The first words usually carry the ask ("write", "explain", "translate"): they get a positional copy. */
const HEAD_WORDS = 12;
/** Long words also give their first characters, a crude stem ("different", "differentiation"). */
const PREFIX_CHARS = 5;
const SEED_PREFIX = 0x61c88647;
const TAIL_WORDS = 12;
const SEED_TAIL = 0x7feb352d;
const SEED_LEXICON = 0x2545f491;
const SEED_LEXICON_HEAD = SEED_LEXICON ^ 0x5bd1e995;
const SEED_LEXICON_STEM = SEED_LEXICON ^ 0x1b873593;
const SEED_LEXICON_ASK = 0x4cf5ad43;
const SEED_SENTENCE = 0x2f7a1c5b;

function wordHash(word: string, chars: number): number {
  let h = SEED_WORD;
  for (let i = 0; i < chars; i++) h = mix(h, word.charCodeAt(i));
  return h;
}

/**
 * Hash of a word (or, for stems, of its first PREFIX_CHARS characters, unfinalised, as wordFeatures
 * keeps it) -> the domain lists (indices into LEXICONS) it belongs to. An open-addressing table in
 * typed arrays: every word of a prompt is looked up, and a Map keyed by uint32 hashes (mostly not
 * small integers to V8) made classification two to three times slower.
 */
class LexiconTable {
  private readonly keys: Uint32Array;
  private readonly first: Int32Array;
  private readonly count: Uint8Array;
  private readonly lists: Uint8Array;
  private readonly mask: number;

  constructor(stems: boolean) {
    const entries = new Map<number, number[]>();
    LEXICONS.forEach((words, list) => {
      for (const word of words) {
        if (stems && word.length <= PREFIX_CHARS) continue;
        const key = stems ? wordHash(word, PREFIX_CHARS) : finalize(wordHash(word, word.length));
        const have = entries.get(key);
        if (have === undefined) entries.set(key, [list]);
        else if (!have.includes(list)) have.push(list);
      }
    });
    let size = 16;
    while (size < entries.size * 4) size *= 2;
    this.mask = size - 1;
    this.keys = new Uint32Array(size);
    this.first = new Int32Array(size).fill(-1);
    this.count = new Uint8Array(size);
    const flat: number[] = [];
    for (const [key, lists] of entries) {
      let i = this.slot(key);
      while (this.first[i] !== -1) i = (i + 1) & this.mask;
      this.keys[i] = key;
      this.first[i] = flat.length;
      this.count[i] = lists.length;
      flat.push(...lists);
    }
    this.lists = Uint8Array.from(flat);
  }

  private slot(key: number): number {
    return (Math.imul(key, 0x9e3779b1) >>> 7) & this.mask;
  }

  /** Where the lists of `key` start in listAt's numbering, or -1 when the word is in no list. */
  find(key: number): number {
    let i = this.slot(key);
    for (;;) {
      if (this.first[i] === -1) return -1;
      if (this.keys[i] === key) return i;
      i = (i + 1) & this.mask;
    }
  }

  countAt(slot: number): number {
    return this.count[slot]!;
  }

  listAt(slot: number, j: number): number {
    return this.lists[this.first[slot]! + j]!;
  }
}
const LEXICON_WORDS = new LexiconTable(false);
const LEXICON_STEMS = new LexiconTable(true);
/** The feature of each list, one set per use: anywhere in the turn, among its first words, by stem. */
const listFeatures = (seed: number) => Int32Array.from(LEXICONS, (_, list) => finalize(mix(seed, list)) & MASK);
const LIST_ANYWHERE = listFeatures(SEED_LEXICON);
const LIST_HEAD = listFeatures(SEED_LEXICON_HEAD);
const LIST_STEM = listFeatures(SEED_LEXICON_STEM);

/** Scratch ring of the last words' hashes (single-threaded, refilled on every call). */
const TAIL_RING = new Uint32Array(TAIL_WORDS);

function wordFeatures(text: string, seed: number, out: FeatureBuffer, withBigrams: boolean): number {
  let h = seed;
  let inWord = false;
  let prev = 0;
  let words = 0;
  const tail = TAIL_RING;
  let len = 0;
  let prefix = 0;
  let firstWord = 0;
  let sentenceStart = true;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 32;
    if (!inWord && isSentenceEnd(c)) sentenceStart = true;
    if (isWordChar(c)) {
      if (!inWord) len = 0;
      h = mix(inWord ? h : seed, c);
      len++;
      if (withBigrams && len === PREFIX_CHARS) prefix = h;
      inWord = true;
    } else if (inWord) {
      const w = finalize(h);
      out.push(w & MASK);
      if (withBigrams && len > PREFIX_CHARS) out.push(finalize(mix(SEED_PREFIX, prefix)) & MASK);
      if (withBigrams && words < HEAD_WORDS) out.push(finalize(mix(SEED_HEAD, w)) & MASK);
      if (withBigrams) {
        // Domain lists: anywhere; among the first words (the ask), also crossed with the first word
        // ("write" + a poem word is creative, "write" + an email word is writing); and by stem.
        const slot = LEXICON_WORDS.find(w);
        if (slot !== -1)
          for (let j = 0, n = LEXICON_WORDS.countAt(slot); j < n; j++) {
            const list = LEXICON_WORDS.listAt(slot, j);
            out.push(LIST_ANYWHERE[list]!);
            if (words < HEAD_WORDS) {
              out.push(LIST_HEAD[list]!);
              if (words > 0) out.push(finalize(mix(mix(SEED_LEXICON_ASK, firstWord), LIST_HEAD[list]!)) & MASK);
            }
          }
        if (len > PREFIX_CHARS) {
          const stem = LEXICON_STEMS.find(prefix);
          if (stem !== -1)
            for (let j = 0, n = LEXICON_STEMS.countAt(stem); j < n; j++)
              out.push(LIST_STEM[LEXICON_STEMS.listAt(stem, j)]!);
        }
      }
      if (withBigrams) tail[words % TAIL_WORDS] = w;
      if (withBigrams && prev !== 0) {
        // Bigrams, with a positional copy among the first words ("can you", "write a").
        const b = finalize(mix(mix(SEED_BIGRAM, prev), w));
        out.push(b & MASK);
        if (words < HEAD_WORDS) out.push(finalize(mix(SEED_HEAD, b)) & MASK);
      }
      // The first word of each later sentence or line: an ask after a persona or context preamble
      // ("You are a tutor. Explain ...") starts a sentence.
      if (withBigrams && sentenceStart && words >= 1) out.push(finalize(mix(SEED_SENTENCE, w)) & MASK);
      sentenceStart = isSentenceEnd(c);
      prev = w;
      if (words === 0) firstWord = w;
      inWord = false;
      words++;
    }
  }
  // The last words usually carry the question when a long text comes first.
  if (withBigrams)
    for (let j = Math.max(HEAD_WORDS, words - TAIL_WORDS); j < words; j++)
      out.push(finalize(mix(SEED_TAIL, tail[j % TAIL_WORDS]!)) & MASK);
  return words;
}

const SEED_QUESTION = 0x6a09e667;
const QUESTION_WORDS = 24;

/**
 * Words of the sentence that holds the last question mark (where the ask is when a long preamble or
 * pasted text comes first), under their own seed.
 */
function questionFeatures(text: string, out: FeatureBuffer): void {
  const q = text.lastIndexOf('?');
  if (q < 0) return;
  let start = q - 1;
  while (start >= 0) {
    const c = text.charCodeAt(start);
    if (c !== 58 && isSentenceEnd(c)) break; // a colon introduces the question rather than ending what precedes it
    start--;
  }
  let h = SEED_QUESTION;
  let inWord = false;
  let words = 0;
  for (let i = start + 1; i <= q && words < QUESTION_WORDS; i++) {
    const c = text.charCodeAt(i);
    if (isWordChar(c)) {
      h = mix(inWord ? h : SEED_QUESTION, c);
      inWord = true;
    } else if (inWord) {
      out.push(finalize(h) & MASK);
      inWord = false;
      words++;
    }
  }
}

function charFeatures(text: string, out: FeatureBuffer): void {
  // Rolling window of four characters hashed as a polynomial (one finalisation per position);
  // runs of whitespace collapse to one space and all digits look alike.
  let c1 = 32,
    c2 = 32,
    c3 = 32;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c === 9 || c === 10 || c === 13) c = 32;
    if (c === 32 && c3 === 32) continue;
    if (c >= 48 && c <= 57) c = 48;
    const h = (Math.imul(c1, 0x1000193) + Math.imul(c2, 0x3c6ef35f) + Math.imul(c3, 0x9e3779b1) + c + SEED_CHAR) | 0;
    out.push(finalize(h) & MASK);
    c1 = c2;
    c2 = c3;
    c3 = c;
  }
}

function metaFeature(kind: number, bucket: number, out: FeatureBuffer): void {
  out.push(finalize(mix(mix(SEED_META, kind), bucket)) & MASK);
}

/** Fill `out` with the features of a conversation; returns the buffer. */
export function extractFeatures(
  messages: readonly ChatMessage[],
  out: FeatureBuffer = new FeatureBuffer(),
): FeatureBuffer {
  out.length = 0;
  const { main, context } = focusText(messages);
  const text = main.toLowerCase();
  const words = wordFeatures(text, SEED_WORD, out, true);
  charFeatures(text, out);
  questionFeatures(text, out);
  if (context.length > 0) wordFeatures(context.toLowerCase(), SEED_CONTEXT, out, false);
  metaFeature(1, Math.min(12, Math.floor(Math.log2(1 + words))), out);
  let nonAscii = 0;
  for (let i = 0; i < main.length; i++) if (main.charCodeAt(i) > 127) nonAscii++;
  metaFeature(2, main.length === 0 ? 0 : Math.min(4, Math.floor((nonAscii / main.length) * 8)), out);
  metaFeature(3, messages.length > 1 ? 1 : 0, out);
  return out;
}
