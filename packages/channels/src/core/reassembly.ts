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

/**
 * A CHUNK whose data the socket thread already copied into its message (driver/socket-worker.ts):
 * the frame handed over is the chunk's header alone.
 */
export interface Assembled {
  /** Length of the frame as it came, header and data. */
  readonly frameLength: number;
  /** Length of its data. */
  readonly dataLength: number;
  /** With the last chunk: the whole message, as the socket thread filled it. */
  readonly body: Uint8Array | undefined;
}

export interface Reassembly {
  /**
   * Takes one CHUNK frame. Returns the completed message on its last chunk, undefined before.
   * Throws ReassemblyError (malformed sequence or oversized message). With `assembled`, the
   * frame is the header alone: the sizes are checked all the same, and the last chunk's body
   * must be the declared message.
   */
  accept(header: ChunkHeader, frame: Uint8Array, assembled?: Assembled): CompletedMessage | undefined;
  /** Drops an in-progress message (connection lost) and returns its budget. */
  reset(): void;
  /** Bytes held by the in-progress message. */
  readonly holding: number;
}

export function createReassembly(maxMessageBytes: number, budget: ReassemblyBudget): Reassembly {
  let buffer: Uint8Array | undefined;
  /** Declared length of the message in progress (counted against the budget), 0 without one. */
  let held = 0;
  /** The message in progress is assembled by the socket thread. */
  let external = false;
  let filled = 0;
  let current: ChunkHeader | undefined;

  const release = (): void => {
    budget.used -= held;
    held = 0;
    buffer = undefined;
    current = undefined;
    filled = 0;
  };

  return {
    accept(header, frame, assembled) {
      const data = frame.subarray(header.dataOffset);
      const dataLength = assembled === undefined ? data.length : assembled.dataLength;
      if (header.first) {
        if (current !== undefined) throw new ReassemblyError(CLOSE_CODES.malformedFrame, 'first chunk while another message is in progress');
        if (header.total - header.metaLength > maxMessageBytes) {
          throw new ReassemblyError(CLOSE_CODES.oversizedMessage, `declared ${header.total} bytes, channel allows ${maxMessageBytes}`);
        }
        if (budget.used + header.total > budget.max) {
          throw new ReassemblyError(CLOSE_CODES.oversizedMessage, `reassembly budget of ${budget.max} bytes exceeded`);
        }
        budget.used += header.total;
        held = header.total;
        // Not zero-filled: the message is delivered only once every declared byte was written.
        // Assembled by the socket thread: it holds the bytes, this side counts them.
        buffer = assembled === undefined ? Buffer.allocUnsafe(header.total) : undefined;
        external = assembled !== undefined;
        current = header;
        filled = 0;
      } else if (current === undefined) {
        throw new ReassemblyError(CLOSE_CODES.malformedFrame, 'continuation chunk without a first chunk');
      }
      if (external !== (assembled !== undefined)) {
        release();
        throw new ReassemblyError(CLOSE_CODES.malformedFrame, 'chunks of one message both assembled by the socket thread and not');
      }
      if (filled + dataLength > held) {
        release();
        throw new ReassemblyError(CLOSE_CODES.oversizedMessage, 'chunks exceed the declared message size');
      }
      buffer?.set(data, filled);
      filled += dataLength;
      if (!header.last) {
        if (filled === held) {
          release();
          throw new ReassemblyError(CLOSE_CODES.malformedFrame, 'message complete but last flag missing');
        }
        return undefined;
      }
      if (filled !== held) {
        release();
        throw new ReassemblyError(CLOSE_CODES.malformedFrame, `last chunk leaves ${held - filled} declared bytes missing`);
      }
      const body = external ? assembled?.body : buffer;
      if (body?.length !== held) {
        release();
        throw new ReassemblyError(CLOSE_CODES.malformedFrame, 'the socket thread handed over no message of the declared size');
      }
      const started = current;
      const completed: CompletedMessage = { body, metaLength: started.metaLength, raw: started.raw, seq: started.seq };
      budget.used -= held;
      buffer = undefined;
      current = undefined;
      filled = 0;
      held = 0;
      return completed;
    },
    reset: release,
    get holding() {
      return held;
    },
  };
}
