// Receiver side of chunking: the chunks of one message arrive in order on their lane and are
// copied into one buffer as they come, so no single event-loop turn touches more than one
// chunk. The declared size is checked against the channel's limit and against a budget shared
// by every lane of the peer before anything is allocated.
//
// Pure: frames in, complete message bodies out.
import { CLOSE_CODES } from './close-codes';
import type { ChunkHeader } from './frames';

/** Bytes that all in-progress messages of one peer may hold together. */
export interface ReassemblyBudget {
  used: number;
  readonly max: number;
}

/** A chunk sequence broke the rules; the connection is closed with `closeCode`. */
export class ReassemblyError extends Error {
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
  }
}

export interface CompletedMessage {
  /** Meta bytes followed by payload bytes. */
  readonly body: Uint8Array;
  readonly metaLength: number;
  readonly raw: boolean;
  readonly seq: number;
}

export interface Reassembly {
  /**
   * Takes one CHUNK frame. Returns the completed message on its last chunk, undefined before.
   * Throws ReassemblyError (malformed sequence or oversized message).
   */
  accept(header: ChunkHeader, frame: Uint8Array): CompletedMessage | undefined;
  /** Drops an in-progress message (connection lost) and returns its budget. */
  reset(): void;
  /** Bytes held by the in-progress message. */
  readonly holding: number;
}

export function createReassembly(maxMessageBytes: number, budget: ReassemblyBudget): Reassembly {
  let buffer: Uint8Array | undefined;
  let filled = 0;
  let current: ChunkHeader | undefined;

  const release = (): void => {
    if (buffer !== undefined) budget.used -= buffer.length;
    buffer = undefined;
    current = undefined;
    filled = 0;
  };

  return {
    accept(header, frame) {
      const data = frame.subarray(header.dataOffset);
      if (header.first) {
        if (current !== undefined) throw new ReassemblyError(CLOSE_CODES.malformedFrame, 'first chunk while another message is in progress');
        if (header.total - header.metaLength > maxMessageBytes) {
          throw new ReassemblyError(CLOSE_CODES.oversizedMessage, `declared ${header.total} bytes, channel allows ${maxMessageBytes}`);
        }
        if (budget.used + header.total > budget.max) {
          throw new ReassemblyError(CLOSE_CODES.oversizedMessage, `reassembly budget of ${budget.max} bytes exceeded`);
        }
        budget.used += header.total;
        // Not zero-filled: the message is delivered only once every declared byte was written.
        buffer = Buffer.allocUnsafe(header.total);
        current = header;
        filled = 0;
      } else if (current === undefined || buffer === undefined) {
        throw new ReassemblyError(CLOSE_CODES.malformedFrame, 'continuation chunk without a first chunk');
      }
      const target = buffer;
      if (filled + data.length > target.length) {
        release();
        throw new ReassemblyError(CLOSE_CODES.oversizedMessage, 'chunks exceed the declared message size');
      }
      target.set(data, filled);
      filled += data.length;
      if (!header.last) {
        if (filled === target.length) {
          release();
          throw new ReassemblyError(CLOSE_CODES.malformedFrame, 'message complete but last flag missing');
        }
        return undefined;
      }
      if (filled !== target.length) {
        release();
        throw new ReassemblyError(CLOSE_CODES.malformedFrame, `last chunk leaves ${target.length - filled} declared bytes missing`);
      }
      const started = current;
      const completed: CompletedMessage = { body: target, metaLength: started.metaLength, raw: started.raw, seq: started.seq };
      budget.used -= target.length;
      buffer = undefined;
      current = undefined;
      filled = 0;
      return completed;
    },
    reset: release,
    get holding() {
      return buffer?.length ?? 0;
    },
  };
}
