import { describe, expect, it } from '@jest/globals';
import { CLOSE_CODES } from './close-codes';
import { readChunkHeader, writeChunkHeader, chunkHeaderLength } from './frames';
import type { ChunkHeaderFields } from './frames';
import { ReassemblyError, createReassembly } from './reassembly';

function chunk(fields: Partial<ChunkHeaderFields>, data: Uint8Array): Uint8Array {
  const full: ChunkHeaderFields = { channel: 0, lane: 0, hasMeta: false, reliable: false, first: false, last: false, raw: true, seq: 0, total: 0, metaLength: 0, ...fields };
  const frame = new Uint8Array(chunkHeaderLength(full.reliable, full.first) + data.length);
  const length = writeChunkHeader(frame, full);
  frame.set(data, length);
  return frame;
}

function accept(reassembly: ReturnType<typeof createReassembly>, frame: Uint8Array) {
  return reassembly.accept(readChunkHeader(frame), frame);
}

describe('reassembly', () => {
  it('assembles chunks in order and releases its budget', () => {
    const budget = { used: 0, max: 1000 };
    const reassembly = createReassembly(1000, budget);
    expect(accept(reassembly, chunk({ first: true, total: 6 }, Uint8Array.of(1, 2, 3)))).toBeUndefined();
    expect(budget.used).toBe(6);
    const done = accept(reassembly, chunk({ last: true }, Uint8Array.of(4, 5, 6)))!;
    expect([...done.body]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(budget.used).toBe(0);
  });

  it.each([
    ['a declared size above the channel limit', [chunk({ first: true, total: 2000 }, new Uint8Array(10))], CLOSE_CODES.oversizedMessage],
    ['chunks beyond the declared size', [chunk({ first: true, total: 4 }, new Uint8Array(3)), chunk({}, new Uint8Array(3))], CLOSE_CODES.oversizedMessage],
    ['a continuation without a first chunk', [chunk({}, new Uint8Array(3))], CLOSE_CODES.malformedFrame],
    ['a second first chunk', [chunk({ first: true, total: 10 }, new Uint8Array(3)), chunk({ first: true, total: 10 }, new Uint8Array(3))], CLOSE_CODES.malformedFrame],
    ['a last chunk that leaves bytes missing', [chunk({ first: true, total: 10 }, new Uint8Array(3)), chunk({ last: true }, new Uint8Array(3))], CLOSE_CODES.malformedFrame],
    ['a complete message without the last flag', [chunk({ first: true, total: 3 }, new Uint8Array(3))], CLOSE_CODES.malformedFrame],
  ])('refuses %s', (_name, frames, code) => {
    const reassembly = createReassembly(1000, { used: 0, max: 1_000_000 });
    let error: unknown;
    try {
      for (const frame of frames) accept(reassembly, frame);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ReassemblyError);
    expect((error as ReassemblyError).closeCode).toBe(code);
  });

  it('refuses a message that would exceed the budget shared by every lane of the peer', () => {
    const budget = { used: 0, max: 1500 };
    const first = createReassembly(1000, budget);
    const second = createReassembly(1000, budget);
    accept(first, chunk({ first: true, total: 1000 }, new Uint8Array(10)));
    expect(() => accept(second, chunk({ first: true, total: 1000 }, new Uint8Array(10)))).toThrow(ReassemblyError);
    first.reset();
    expect(budget.used).toBe(0);
  });
});

describe('reassembly of chunks the socket thread assembled', () => {
  /** The header alone, as the socket thread hands it over, and what it says of the frame. */
  function assembled(fields: Partial<ChunkHeaderFields>, dataLength: number, body?: Uint8Array): [Uint8Array, { frameLength: number; dataLength: number; body: Uint8Array | undefined }] {
    const header = chunk(fields, new Uint8Array(0));
    return [header, { frameLength: header.length + dataLength, dataLength, body }];
  }

  it('counts the chunks, takes the message the thread filled, and releases its budget', () => {
    const budget = { used: 0, max: 1000 };
    const reassembly = createReassembly(1000, budget);
    const [first, firstInfo] = assembled({ first: true, total: 6 }, 3);
    expect(reassembly.accept(readChunkHeader(first), first, firstInfo)).toBeUndefined();
    expect(budget.used).toBe(6);
    expect(reassembly.holding).toBe(6);
    const body = Uint8Array.of(1, 2, 3, 4, 5, 6);
    const [last, lastInfo] = assembled({ last: true }, 3, body);
    const done = reassembly.accept(readChunkHeader(last), last, lastInfo)!;
    expect(done.body).toBe(body);
    expect(budget.used).toBe(0);
  });

  it.each([
    ['chunks past the declared size', [assembled({ first: true, total: 4 }, 3), assembled({ last: true }, 3, new Uint8Array(4))], CLOSE_CODES.oversizedMessage],
    ['a last chunk without the message', [assembled({ first: true, total: 6 }, 3), assembled({ last: true }, 3)], CLOSE_CODES.malformedFrame],
    ['a message of another size than declared', [assembled({ first: true, total: 6 }, 3), assembled({ last: true }, 3, new Uint8Array(5))], CLOSE_CODES.malformedFrame],
    ['an assembled chunk after one that was not', [[chunk({ first: true, total: 6 }, new Uint8Array(3)), undefined], assembled({ last: true }, 3, new Uint8Array(6))], CLOSE_CODES.malformedFrame],
    ['a chunk that was not assembled after one that was', [assembled({ first: true, total: 6 }, 3), [chunk({ last: true }, new Uint8Array(3)), undefined]], CLOSE_CODES.malformedFrame],
  ] as const)('refuses %s, and returns the budget', (_name, frames, code) => {
    const budget = { used: 0, max: 1_000_000 };
    const reassembly = createReassembly(1000, budget);
    let error: unknown;
    try {
      for (const [frame, info] of frames) reassembly.accept(readChunkHeader(frame), frame, info);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ReassemblyError);
    expect((error as ReassemblyError).closeCode).toBe(code);
    expect(budget.used).toBe(0);
  });
});
