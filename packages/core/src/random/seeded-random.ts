// A seeded generator: xoshiro128** (Blackman and Vigna, "Scrambled linear pseudorandom number
// generators", 2018): 128 bits of state, period 2^128 − 1, passes BigCrush, and needs only 32-bit
// integer arithmetic, which JavaScript does fast through Math.imul and `>>> 0`.
// The state is expanded from the seed with MurmurHash3's 32-bit finalizer (fmix32), so nearby
// seeds (1, 2, 3...) start from unrelated states.
import { BaseRandom } from './random';
import type { Random } from './random';

/** MurmurHash3's fmix32: a bijective avalanche over 32-bit integers. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85eb_ca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2_ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of a string (FNV-1a over UTF-16 code units, then fmix32). */
export function hashString32(text: string, seed = 0x811c_9dc5): number {
  let h = seed >>> 0;
  for (let index = 0; index < text.length; index += 1) {
    h ^= text.charCodeAt(index);
    h = Math.imul(h, 0x0100_0193);
  }
  return mix32(h);
}

function rotl(value: number, shift: number): number {
  return (value << shift) | (value >>> (32 - shift));
}

export type Seed = number | string;

function seedWords(seed: Seed): [number, number] {
  if (typeof seed === 'string') return [hashString32(seed), hashString32(seed, 0x9e37_79b9)];
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`a seed is a non-negative safe integer or a string (got ${String(seed)})`);
  }
  return [seed >>> 0, Math.floor(seed / 4_294_967_296) >>> 0];
}

function expand(low: number, high: number): Uint32Array {
  const state = new Uint32Array(4);
  let counter = 0x9e37_79b9;
  for (let index = 0; index < 4; index += 1) {
    counter = (counter + 0x9e37_79b9) >>> 0;
    state[index] = mix32(mix32(low ^ counter) ^ rotl(high, 7 * index + 3) ^ Math.imul(index + 1, 0x27d4_eb2d));
  }
  if (state[0] === 0 && state[1] === 0 && state[2] === 0 && state[3] === 0) state[0] = 1;
  return state;
}

export class SeededRandom extends BaseRandom {
  /** The seed this generator started from, for printing with a failure so the run replays. */
  readonly seed: Seed;
  private readonly low: number;
  private readonly high: number;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: Seed) {
    super();
    this.seed = seed;
    [this.low, this.high] = seedWords(seed);
    const state = expand(this.low, this.high);
    this.s0 = state[0]!;
    this.s1 = state[1]!;
    this.s2 = state[2]!;
    this.s3 = state[3]!;
  }

  uint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  fork(label?: string): Random {
    if (label !== undefined) {
      return new SeededRandom(`${typeof this.seed}:${String(this.seed)}/${label}`);
    }
    return new SeededRandom(`${this.uint32()}.${this.uint32()}.${this.uint32()}.${this.uint32()}`);
  }
}

/** A generator that replays exactly from `seed`. */
export function createSeededRandom(seed: Seed): SeededRandom {
  return new SeededRandom(seed);
}
