import { Encoder } from 'cbor-x';
import type { CommandCodec } from './state-machine';

// No shared structures: every entry must decode on its own, on any node, from any era.
const encoder = new Encoder({ useRecords: false, structuredClone: false });

/** Commands as CBOR (cbor-x): plain data, Uint8Array, Map, Date and the like round-trip. */
export function cborCodec<Command>(): CommandCodec<Command> {
  return {
    encode: (command) => encoder.encode(command),
    decode: (data) => encoder.decode(data) as Command,
  };
}
