import { describe, expect, it } from '@jest/globals';
import { createChunkPool } from './chunk-pool';

describe('chunk pool', () => {
  it('hands a written buffer out again, and only buffers of its own size', () => {
    const pool = createChunkPool(1024, 4);
    const first = pool.take(1000);
    expect(first.length).toBe(1000);
    expect(pool.owns(first)).toBe(true);
    pool.give(first);
    const second = pool.take(1024);
    expect(second.buffer).toBe(first.buffer);
    const large = pool.take(2048);
    expect(large.length).toBe(2048);
    expect(pool.owns(large)).toBe(false);
    pool.give(large);
    expect(pool.size).toBe(0);
  });

  it('keeps at most its bound, and a buffer given twice only once', () => {
    const pool = createChunkPool(64, 2);
    const frames = [pool.take(64), pool.take(64), pool.take(64)];
    for (const frame of frames) pool.give(frame);
    expect(pool.size).toBe(2);
    const again = pool.take(64);
    pool.give(again);
    pool.give(again);
    expect(pool.size).toBe(2);
    expect(new Set([pool.take(64).buffer, pool.take(64).buffer]).size).toBe(2);
  });

  it('a frame far smaller than its buffers (cut to a peer\'s smaller chunks, or a last chunk) does not pin one', () => {
    // A node with 64 KiB chunks sending to a peer that takes 1 KiB ones: each 1 KiB frame held a
    // 64 KiB buffer until written, 64 times the bytes in flight.
    const pool = createChunkPool(64 * 1024, 4);
    const small = pool.take(1024 + 18);
    expect(pool.owns(small)).toBe(false);
    expect(small.buffer.byteLength).toBeLessThan(32 * 1024);
    // Above half of a buffer, the pool serves it.
    const half = pool.take(32 * 1024 + 1);
    expect(pool.owns(half)).toBe(true);
  });

  it('a pool that keeps no buffers allocates each frame at its own size', () => {
    const pool = createChunkPool(16 * 1024 * 1024, 0);
    const frame = pool.take(16 * 1024 * 1024);
    expect(pool.owns(frame)).toBe(false);
    pool.give(frame);
    expect(pool.size).toBe(0);
  });

  it('without a finite chunk size it allocates every time', () => {
    const pool = createChunkPool(Number.POSITIVE_INFINITY, 4);
    const frame = pool.take(100);
    expect(pool.owns(frame)).toBe(false);
  });
});
