// A generator backed by the operating system's CSPRNG, for production. Draws are buffered so a
// call costs an array read, not a system call.
import { BaseRandom } from './random';
import type { Random } from './random';

const BUFFER_WORDS = 256;

export class CryptoRandom extends BaseRandom {
  private readonly buffer = new Uint32Array(BUFFER_WORDS);
  private position = BUFFER_WORDS;

  uint32(): number {
    if (this.position === BUFFER_WORDS) {
      globalThis.crypto.getRandomValues(this.buffer);
      this.position = 0;
    }
    return this.buffer[this.position++]!;
  }

  fork(_label?: string): Random {
    return new CryptoRandom();
  }
}

export function createCryptoRandom(): CryptoRandom {
  return new CryptoRandom();
}
