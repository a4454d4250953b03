// One CBOR configuration for the whole transport: plain maps (no record extension, so nothing
// depends on structures negotiated earlier on a connection), maps decoded as plain objects.
// cbor-x renames a decoded `__proto__` key to `__proto_`, so decoded maps never reach a
// prototype; the envelope around payloads is binary or validated arrays, never a decoded map.
import { Decoder, Encoder } from 'cbor-x';
import { SCREEN_FOUND_ERROR, SCREEN_FOUND_TAG, screenCbor } from './cbor-screen';

const CBOR_OPTIONS = { useRecords: false, mapsAsObjects: true } as const;

export interface CborCodec {
  /** CBOR bytes of `value`; throws what cbor-x throws for unencodable values. */
  encode(value: unknown): Uint8Array;
  /**
   * The single value in `bytes`; throws on malformed, truncated or trailing input, and
   * (CborScreenError, before cbor-x decodes anything) on a packed-values table, a big integer
   * above MAX_BIGNUM_BYTES or shared references, which cost far more than their size, and on
   * nesting past MAX_NESTING, which cbor-x may not decode at every stack depth (cbor-screen.ts).
   */
  decode(bytes: Uint8Array): unknown;
  /**
   * Throws what `decode` throws on `bytes`, this node's encoder's output, decoding them only when
   * the screen finds a tag in them whose decoding may throw (any but a date of a number or a text
   * string): without one, what cbor-x's encoder writes its decoder reads back. For `send`, so
   * that it refuses what the receiver would.
   */
  check(bytes: Uint8Array): void;
  /**
   * As `decode`, for input that holds no CBOR tags (handshake frames): throws CborScreenError on
   * any, before cbor-x decodes it (some tags cost far more to decode than their size: cbor-screen.ts).
   */
  decodeUntagged(bytes: Uint8Array): unknown;
}

export function createCborCodec(): CborCodec {
  const encoder = new Encoder(CBOR_OPTIONS);
  const decoder = new Decoder(CBOR_OPTIONS);
  /** Decodes `bytes`, in which the screen found `found`. */
  const decodeScreened = (bytes: Uint8Array, found: number): unknown => {
    if ((found & SCREEN_FOUND_ERROR) === 0) return decoder.decode(bytes) as unknown;
    // cbor-x builds each Error with `new Error`, which captures the stack: cbor-x's own frames,
    // nothing of the sender's, and nearly all of the cost (a 63 KB frame of 21,000 small Errors
    // took 150 ms and 14 MB; without the capture 14 ms).
    return withoutStacks(() => decoder.decode(bytes) as unknown);
  };
  return {
    encode: (value) => encoder.encode(value),
    decode: (bytes) => decodeScreened(bytes, screenCbor(bytes, true)),
    check: (bytes) => {
      const found = screenCbor(bytes, true);
      if ((found & SCREEN_FOUND_TAG) !== 0) decodeScreened(bytes, found);
    },
    decodeUntagged: (bytes) => {
      screenCbor(bytes, false);
      return decoder.decode(bytes) as unknown;
    },
  };
}

/**
 * `run()` with no stack captured by the Errors it builds (Error.stackTraceLimit 0): for errors
 * about a peer's bytes, whose stacks would hold only this node's decoding frames and be most of
 * their cost. `run` is synchronous, so the process's limit is back before any other code runs.
 */
export function withoutStacks<T>(run: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return run();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
