// Identifiers: UUID v4 correlation ids and monotonic integer ids.
import type { Random } from './random/random';

const HEX: string[] = Array.from({ length: 256 }, (_, index) => index.toString(16).padStart(2, '0'));

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * A random (version 4) UUID. Without a generator it comes from the platform's CSPRNG; with one
 * (a seeded Random in a simulation) it is reproducible.
 */
export function uuidV4(random?: Random): string {
  if (random === undefined) return globalThis.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  for (let index = 0; index < 16; index += 4) {
    const word = random.uint32();
    bytes[index] = word >>> 24;
    bytes[index + 1] = (word >>> 16) & 0xff;
    bytes[index + 2] = (word >>> 8) & 0xff;
    bytes[index + 3] = word & 0xff;
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122 variant
  let text = '';
  for (let index = 0; index < 16; index += 1) {
    if (index === 4 || index === 6 || index === 8 || index === 10) text += '-';
    text += HEX[bytes[index]!];
  }
  return text;
}

/** True for a string in the canonical UUID form (any version 1–8, RFC 4122 variant). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

export interface Sequence {
  /** The next id; strictly greater than every id returned before. */
  next(): number;
  /** The id `next()` would return, without taking it. */
  peek(): number;
}

/** Monotonic positive integer ids, starting at `start` (default 1). */
export function createSequence(start = 1): Sequence {
  if (!Number.isSafeInteger(start)) throw new RangeError(`sequence start must be a safe integer (got ${start})`);
  let nextId = start;
  return {
    next() {
      if (nextId >= Number.MAX_SAFE_INTEGER) throw new RangeError('sequence exhausted 2^53 ids');
      return nextId++;
    },
    peek: () => nextId,
  };
}
