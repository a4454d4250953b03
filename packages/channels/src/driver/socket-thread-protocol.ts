// What the main thread and its socket thread (socket-thread.ts, socket-worker.ts) say to each
// other. Messages are short arrays, the operation first; frames bound for the main thread travel
// through a ring in shared memory, so that reading them allocates nothing there.

/** Main thread → socket thread. */
export const TO_THREAD = {
  /** [op, id, url, DialOptions] */
  dial: 0,
  /** [op, id, frames: Uint8Array[]] */
  send: 1,
  /** [op, id] */
  ping: 2,
  /** [op, id, code, reason] */
  close: 3,
  /** [op, id] */
  terminate: 4,
  /** [op, id, bytes] */
  cap: 5,
  /** [op]: the main thread released ring space the socket thread waits for. */
  space: 6,
} as const;

/** Socket thread → main thread. */
export const TO_MAIN = {
  /** [op, id, certificate (TLS) or null] */
  open: 0,
  /**
   * [op, id, offset, length, advance, cost, frameLength?, dataLength?, body?]: a frame in the
   * ring; `advance` ring bytes and `cost` bytes are released after it. With frameLength, a CHUNK
   * the thread assembles (its cost is its data): the ring holds its header, and the last one
   * brings the message (an ArrayBuffer, transferred).
   */
  frame: 1,
  /** [op, id, data: Uint8Array, isBinary, cost]: a frame sent as a copy (not for the ring). */
  copy: 2,
  /** [op, id] */
  ping: 3,
  /** [op, id] */
  pong: 4,
  /** [op, id, code, reason] */
  close: 5,
  /** [op, id, code (ws's WS_ERR_* or a system code) or null, message] */
  error: 6,
  /** [op]: the thread's module loaded and listens; a failure before this means it cannot run here. */
  ready: 7,
} as const;

/** What the socket thread needs to open a WebSocket: ws's options, all structured-clonable. */
export interface DialOptions {
  /** Frames are masked with a random key (security.maskFrames); otherwise an all-zero one. */
  readonly mask: boolean;
  readonly maxPayload: number;
  readonly handshakeTimeout: number;
  /** The cap on one message from the upgrade until the main thread lifts it (capToHandshakeFrames). */
  readonly handshakeCap: number;
  /** ws's TLS options (certificate, key, CA, servername and the rest), when TLS is on. */
  readonly tls: Readonly<Record<string, unknown>> | undefined;
}

/** Set up once per socket thread. */
export interface SocketThreadData {
  /** Frames for the main thread, written by the socket thread only. */
  readonly ring: SharedArrayBuffer;
  /** Int32 words: RELEASED and WAITING below. */
  readonly control: SharedArrayBuffer;
  /** The frame type whose frames go through the ring (CHUNK: the main thread copies them at once). */
  readonly ringFrameType: number;
  /** Frames longer than this go as copies. */
  readonly ringFrameMax: number;
  /**
   * Per channel index, the largest message (meta included) the thread assembles itself, 0 for
   * none: the thread copies each chunk's data into the message (so the main thread neither
   * allocates nor faults in its pages) and hands over the header alone. Once a connection's
   * handshake finished only, since the declared size is allocated at the first chunk.
   */
  readonly assembleCaps: readonly number[];
  /** Smaller messages are not assembled by the thread. */
  readonly assembleMin: number;
  /** Bytes of the messages the thread assembles at once, all sockets together. */
  readonly assembleBudget: number;
  /**
   * Bytes handed to the main thread besides the ring (copies, assembled data) and not yet
   * released: past this the thread waits, and stops reading, as when the ring is full.
   */
  readonly costBudget: number;
}

/** Bytes the main thread has released, since the start, modulo 2^32. */
export const RELEASED = 0;
/** 1 while the socket thread waits for ring space or cost (the main thread then posts `space`). */
export const WAITING = 1;
/** Cost (copies, assembled data) the main thread has released, modulo 2^32. */
export const RELEASED_COST = 2;
