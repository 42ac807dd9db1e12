import { CACHE_SCHEMA } from './cache.js';

/**
 * Invalidation messages between instances, over Redis pub/sub. A message names the keys and
 * prefixes a write touched; every instance drops them from its L1 and acknowledges, so the writer
 * can answer only once every other instance has forgotten the old value. Payloads are bounded: a
 * write that touches too much is sent as "drop everything", which is always correct.
 */

export const INVALIDATION_CHANNEL = `orc:v${CACHE_SCHEMA}:invalidate`;
export const ackChannel = (instanceId: string): string => `${INVALIDATION_CHANNEL}:ack:${instanceId}`;

/** Largest message sent; Redis buffers pub/sub per subscriber, so messages stay small. */
export const MAX_MESSAGE_BYTES = 8 * 1024;
/** More keys plus prefixes than this in one invalidation turn it into "drop everything". */
export const MAX_ITEMS = 128;

export type Invalidation =
  | { all: false; keys: string[]; prefixes: string[] }
  | { all: true };

export interface InvalidationMessage {
  /** Instance that wrote. */
  origin: string;
  /** Per-origin sequence number, echoed in the acknowledgement. */
  seq: number;
  what: Invalidation;
}

interface Wire {
  o: string;
  i: number;
  k?: string[];
  p?: string[];
  all?: true;
}

export function normalize(keys: string[], prefixes: string[]): Invalidation {
  const k = [...new Set(keys)];
  const p = [...new Set(prefixes)];
  if (p.includes('') || k.length + p.length > MAX_ITEMS) return { all: true };
  return { all: false, keys: k, prefixes: p };
}

/**
 * Encodes a message, falling back to "drop everything" when it would exceed the size bound; the
 * returned `what` is what was actually encoded, so the shared tier invalidates the same thing.
 */
export function encode(message: InvalidationMessage): { text: string; what: Invalidation } {
  const { what } = message;
  if (!what.all) {
    const text = JSON.stringify({ o: message.origin, i: message.seq, k: what.keys, p: what.prefixes } satisfies Wire);
    if (Buffer.byteLength(text) <= MAX_MESSAGE_BYTES) return { text, what };
  }
  return { text: JSON.stringify({ o: message.origin, i: message.seq, all: true } satisfies Wire), what: { all: true } };
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Parses a message; anything malformed or oversized from an unknown publisher is ignored. */
export function decode(text: string): InvalidationMessage | undefined {
  if (text.length > MAX_MESSAGE_BYTES * 2) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const w = raw as Partial<Wire>;
  if (typeof w.o !== 'string' || typeof w.i !== 'number') return undefined;
  if (w.all === true) return { origin: w.o, seq: w.i, what: { all: true } };
  const keys = w.k ?? [];
  const prefixes = w.p ?? [];
  if (!isStrings(keys) || !isStrings(prefixes)) return undefined;
  return { origin: w.o, seq: w.i, what: { all: false, keys, prefixes } };
}

/** Invalidations that could not reach Redis, replayed before the shared tier is used again. */
export class PendingInvalidations {
  private keys = new Set<string>();
  private prefixes = new Set<string>();
  private all = false;

  add(what: Invalidation): void {
    // Stryker disable next-line ConditionalExpression: only saves work; while `all` is set, take() returns "everything" whatever else was added
    if (this.all) return;
    if (what.all) {
      this.clear();
      this.all = true;
      return;
    }
    for (const k of what.keys) this.keys.add(k);
    for (const p of what.prefixes) this.prefixes.add(p);
    if (this.keys.size + this.prefixes.size > MAX_ITEMS) {
      this.clear();
      this.all = true;
    }
  }

  get empty(): boolean {
    return !this.all && this.keys.size === 0 && this.prefixes.size === 0;
  }

  /** Takes everything recorded so far (put it back with `add` if replaying fails). */
  take(): Invalidation {
    const taken: Invalidation = this.all ? { all: true } : { all: false, keys: [...this.keys], prefixes: [...this.prefixes] };
    this.clear();
    return taken;
  }

  private clear(): void {
    this.keys = new Set();
    this.prefixes = new Set();
    this.all = false;
  }
}
