// A block's body is one CBOR array of its messages (payloads, or [meta, payload] pairs), decoded
// as a whole. When that fails, one message must not cost the others of its frame: a sender of
// another version or build may have written a payload this node's screen refuses or cbor-x throws
// on, and on a reliable channel a refused frame comes back after every reconnect, holding back its
// lane. So the body is split into its items by their heads and each payload decoded on its own;
// one that does not decode becomes an UndecodablePayload for the driver to drop and count. The
// envelope stays strict: a body that is not a definite array of the header's count, an item that
// runs past the body or is no pair where pairs are due, a meta that does not decode, or bytes
// after the last item, and the whole frame is refused as before. A payload nested past the
// screen's MAX_NESTING is dropped like any other it refuses: the screen stops at the bound, before
// cbor-x recurses, so it costs a walk of heads. Should cbor-x still run out of stack
// (isStackOverflow: a decode started with nearly all of the stack in use), the frame is refused:
// each such overflow costs milliseconds, and the frame would pay for it twice, as a whole and then
// alone, with the connection kept.
import { withoutStacks } from './cbor';
import type { CborCodec } from './cbor';
import { CBOR_PAIR } from './cbor-heads';
import { cborItemEnd, headArgument, headNumberBytes } from './cbor-screen';

/** A payload of a block or chunked message that did not decode, in its place. */
export class UndecodablePayload {
  constructor(readonly error: unknown) {}
}

/**
 * Whether `error` is the stack running out, as cbor-x's recursive decoder does on arrays or maps
 * nested a few thousand levels deep from a shallow stack, fewer from a deeper one: 1 to 7 ms each,
 * for a few bytes a level. The screen refuses nesting past MAX_NESTING before cbor-x runs, far
 * below that, so this is left for a decode started with the stack nearly used up; the frame
 * holding it is then refused rather than split and decoded again.
 */
export function isStackOverflow(error: unknown): error is RangeError {
  return error instanceof RangeError && error.message === 'Maximum call stack size exceeded';
}

/**
 * The `count` items of `body` decoded one by one, an undecodable payload replaced by an
 * UndecodablePayload (as the item, or as the second of its pair when `hasMeta`); undefined when
 * the envelope around them cannot be read or a payload overflows the stack (see above).
 */
export function decodeBlockItems(codec: CborCodec, body: Uint8Array, count: number, hasMeta: boolean): unknown[] | undefined {
  let position = arrayHeadEnd(body, count);
  if (position < 0) return undefined;
  const items: unknown[] = [];
  // Each refusal builds an Error, whose stack (cbor-x's frames or the screen's, nothing of the
  // sender's) would be most of the cost of a frame of many small undecodable payloads.
  const complete = withoutStacks(() => {
    for (let index = 0; index < count; index += 1) {
      let meta: unknown;
      if (hasMeta) {
        if (body[position] !== CBOR_PAIR) return false;
        const metaEnd = cborItemEnd(body, position + 1);
        if (metaEnd < 0) return false;
        try {
          meta = codec.decode(body.subarray(position + 1, metaEnd));
        } catch {
          return false;
        }
        position = metaEnd;
      }
      const payloadEnd = cborItemEnd(body, position);
      if (payloadEnd < 0) return false;
      let payload: unknown;
      try {
        payload = codec.decode(body.subarray(position, payloadEnd));
      } catch (error) {
        if (isStackOverflow(error)) return false;
        payload = new UndecodablePayload(error);
      }
      position = payloadEnd;
      items.push(hasMeta ? [meta, payload] : payload);
    }
    return true;
  });
  if (!complete) return undefined;
  return position === body.length ? items : undefined;
}

/** The offset after a definite-length array head of `count` items at the start of `body`, or -1. */
function arrayHeadEnd(body: Uint8Array, count: number): number {
  const initial = body[0];
  if (initial === undefined || initial >> 5 !== 4) return -1;
  const info = initial & 0x1f;
  // A count is at most 32 bits: no 8-byte head, no indefinite length.
  const end = 1 + headNumberBytes(info);
  if (info > 26 || end > body.length) return -1;
  return headArgument(body, 1, info) === count ? end : -1;
}
