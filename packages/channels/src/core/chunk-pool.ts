// Buffers for full-size chunk frames, used again once the socket has written them. A bulk
// transfer otherwise allocates a fresh 64 KiB buffer per chunk, and V8 starts a full collection
// every 64 MB of such allocations: pauses of several milliseconds, during which no heartbeat or
// request is read. The pool is bounded; a frame that is never given back is simply collected.
// Only frames of more than half a buffer come from it, so that none holds much more than its size.

export interface ChunkPool {
  /** A buffer of `bytes` bytes, from the pool when it fits a pooled buffer. Not zero-filled. */
  take(this: void, bytes: number): Buffer;
  /** Whether `frame` came from the pool (and may be given back once written). */
  owns(frame: Uint8Array): boolean;
  /** Gives a written frame's buffer back. */
  give(frame: Uint8Array): void;
  readonly size: number;
}

export function createChunkPool(bufferBytes: number, maxBuffers: number): ChunkPool {
  const free: ArrayBuffer[] = [];
  const owned = new WeakSet<ArrayBuffer>();
  /** Largest request served from the pool (none when the buffer size is not a finite number, or none is kept). */
  const largest = Number.isFinite(bufferBytes) && maxBuffers > 0 ? bufferBytes : -1;
  return {
    take(bytes) {
      // A frame of half a buffer or less gets a buffer of its own size. Frames are cut to a peer's
      // chunk size when it is smaller than this node's (and the last chunk of a message is
      // short): a pooled buffer each would hold up to chunkBytes for every such frame in flight.
      if (bytes > largest || bytes * 2 <= largest) return Buffer.allocUnsafe(bytes);
      let buffer = free.pop();
      if (buffer === undefined) {
        buffer = new ArrayBuffer(bufferBytes);
        owned.add(buffer);
      }
      return Buffer.from(buffer, 0, bytes);
    },
    owns(frame) {
      return owned.has(frame.buffer as ArrayBuffer);
    },
    give(frame) {
      const buffer = frame.buffer as ArrayBuffer;
      if (owned.has(buffer) && free.length < maxBuffers && !free.includes(buffer)) free.push(buffer);
    },
    get size() {
      return free.length;
    },
  };
}
