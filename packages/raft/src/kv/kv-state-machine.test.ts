import { describe, expect, it } from '@jest/globals';
import { FoundationError } from '@foundation/core';
import { createKvStateMachine } from './kv-state-machine';

describe('createKvStateMachine', () => {
  it('puts, deletes and compares-and-sets, returning what happened', () => {
    const kv = createKvStateMachine();
    expect(kv.apply({ op: 'put', key: 'a', value: 1 }, 1)).toEqual({ op: 'put', previous: null });
    expect(kv.apply({ op: 'put', key: 'a', value: 2 }, 2)).toEqual({ op: 'put', previous: 1 });
    expect(kv.apply({ op: 'cas', key: 'a', expected: 1, value: 3 }, 3)).toEqual({ op: 'cas', ok: false, current: 2 });
    expect(kv.apply({ op: 'cas', key: 'a', expected: 2, value: 3 }, 4)).toEqual({ op: 'cas', ok: true, current: 3 });
    expect(kv.apply({ op: 'cas', key: 'new', expected: null, value: 'x' }, 5)).toEqual({ op: 'cas', ok: true, current: 'x' });
    expect(kv.apply({ op: 'delete', key: 'a' }, 6)).toEqual({ op: 'delete', existed: true });
    expect(kv.apply({ op: 'delete', key: 'a' }, 7)).toEqual({ op: 'delete', existed: false });
    expect(kv.query({ op: 'get', key: 'a' })).toBeNull();
    expect(kv.query({ op: 'get', key: 'new' })).toBe('x');
    expect(kv.query({ op: 'size' })).toBe(1);
  });

  it('reads a stored null as a missing key, as the README says, but counts it in size and delete', () => {
    const kv = createKvStateMachine();
    expect(kv.apply({ op: 'put', key: 'n', value: null }, 1)).toEqual({ op: 'put', previous: null });
    expect(kv.query({ op: 'get', key: 'n' })).toBeNull();
    expect(kv.query({ op: 'get', key: 'missing' })).toBeNull();
    expect(kv.query({ op: 'size' })).toBe(1);
    expect(kv.apply({ op: 'cas', key: 'n', expected: null, value: 1 }, 2)).toEqual({ op: 'cas', ok: true, current: 1 });
    expect(kv.apply({ op: 'cas', key: 'missing', expected: null, value: 2 }, 3)).toEqual({ op: 'cas', ok: true, current: 2 });
    expect(kv.apply({ op: 'put', key: 'n', value: null }, 4)).toEqual({ op: 'put', previous: 1 });
    expect(kv.apply({ op: 'delete', key: 'n' }, 5)).toEqual({ op: 'delete', existed: true });
    expect(kv.query({ op: 'size' })).toBe(1);
  });

  it('refuses commands and queries whose key holds a lone surrogate before they reach the log, but applies what is in a log alike (review finding)', () => {
    // cbor-x writes a lone surrogate as U+FFFD: two keys became one in the log, and the key as
    // given was not the key stored.
    const kv = createKvStateMachine();
    for (const key of ['\uD800', '\uDC00', 'x\uD83D', '\uDE00y']) {
      expect(() => kv.checkCommand({ op: 'put', key, value: 1 })).toThrow(/lone surrogate/);
      expect(() => kv.checkCommand({ op: 'delete', key })).toThrow(/lone surrogate/);
      expect(() => kv.checkCommand({ op: 'cas', key, expected: null, value: 1 })).toThrow(/lone surrogate/);
      expect(() => kv.checkQuery({ op: 'get', key })).toThrow(/lone surrogate/);
    }
    const refused = (() => {
      try {
        kv.checkCommand({ op: 'put', key: '\uD800', value: 1 });
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(refused).toMatchObject({ type: 'invalid_input', context: { key: '\\ud800' } });
    for (const key of ['', 'plain', '\u{1F600}', '\uFFFD']) {
      expect(() => kv.checkCommand({ op: 'put', key, value: '\uD800' })).not.toThrow();
      expect(() => kv.checkQuery({ op: 'get', key })).not.toThrow();
    }
    expect(() => kv.checkQuery({ op: 'size' })).not.toThrow();
    // Apply is as it was: a command already in a log applies the same on every node.
    expect(kv.apply({ op: 'put', key: '\uD800', value: 1 }, 1)).toEqual({ op: 'put', previous: null });
    expect(kv.query({ op: 'get', key: '\uD800' })).toBe(1);
  });

  it('compares structured values by content', () => {
    const kv = createKvStateMachine();
    kv.apply({ op: 'put', key: 'doc', value: { a: [1, 2], b: 'x' } }, 1);
    expect(kv.apply({ op: 'cas', key: 'doc', expected: { a: [1, 2], b: 'x' }, value: 'replaced' }, 2)).toMatchObject({ ok: true });
  });

  it('answers with copies of its values: changing what it returned changes neither the map nor its snapshots (review finding)', () => {
    // A read answered with the stored object itself: a caller that changed it (a config read, a
    // counter bumped) changed this replica alone, and its later reads, compare-and-sets and
    // snapshots then disagreed with every other node.
    const kv = createKvStateMachine();
    kv.apply({ op: 'put', key: 'doc', value: { limit: 10, tags: ['a'], bytes: new Uint8Array([1]) } }, 1);
    const read = kv.query({ op: 'get', key: 'doc' }) as { limit: number; tags: string[]; bytes: Uint8Array };
    read.limit = 99;
    read.tags.push('b');
    read.bytes[0] = 7;
    const put = kv.apply({ op: 'put', key: 'doc', value: { limit: 20, tags: [] } }, 2);
    expect(put).toEqual({ op: 'put', previous: { limit: 10, tags: ['a'], bytes: new Uint8Array([1]) } });
    (put as { previous: { limit: number } }).previous.limit = 98;
    const cas = kv.apply({ op: 'cas', key: 'doc', expected: { limit: 20, tags: [] }, value: { limit: 30, tags: [] } }, 3);
    expect(cas).toEqual({ op: 'cas', ok: true, current: { limit: 30, tags: [] } });
    (cas as { current: { limit: number } }).current.limit = 97;
    const refused = kv.apply({ op: 'cas', key: 'doc', expected: 'other', value: 1 }, 4);
    (refused as { current: { limit: number } }).current.limit = 96;
    expect(kv.query({ op: 'get', key: 'doc' })).toEqual({ limit: 30, tags: [] });
    expect(kv.apply({ op: 'cas', key: 'doc', expected: { limit: 30, tags: [] }, value: 'done' }, 5)).toMatchObject({ ok: true });
    const copy = createKvStateMachine();
    copy.restore(kv.snapshot());
    expect(copy.entries()).toEqual(new Map([['doc', 'done']]));
  });

  it('refuses unknown commands the same way everywhere instead of throwing', () => {
    const kv = createKvStateMachine();
    expect(kv.apply({ op: 'explode', key: 'a' } as never, 1)).toEqual({ op: 'cas', ok: false, current: null });
    // Review finding: a null command threw on every replica, and a key that is not a string was
    // stored and then made every snapshot of the map unreadable.
    for (const malformed of [null, 'put', { op: 'put', key: 7, value: 1 }, { op: 'delete' }]) {
      expect(kv.apply(malformed as never, 2)).toEqual({ op: 'cas', ok: false, current: null });
    }
    const restored = createKvStateMachine();
    restored.restore(kv.snapshot());
    expect(restored.entries().size).toBe(0);
  });

  it('snapshots and restores the whole map', () => {
    const source = createKvStateMachine();
    for (let index = 0; index < 100; index += 1) source.apply({ op: 'put', key: `k${index}`, value: { n: index, bytes: new Uint8Array([index]) } }, index + 1);
    const copy = createKvStateMachine();
    copy.restore(source.snapshot());
    expect(copy.entries()).toEqual(source.entries());
    expect(() => copy.restore(new Uint8Array([0xa1, 0x01, 0x02]))).toThrow(FoundationError);
  });

  it('refuses hostile snapshot bytes with a coded error, without allocating what they claim, and keeps its map (review finding)', () => {
    // They threw whatever the decoder or the shape check threw (TypeError, Error, RangeError),
    // which reached start() as they were: nothing said what had failed, with no code.
    const kv = createKvStateMachine();
    kv.apply({ op: 'put', key: 'kept', value: 1 }, 1);
    const hostile: Record<string, Uint8Array> = {
      empty: new Uint8Array(0),
      'not CBOR': new TextEncoder().encode('not a snapshot'),
      'a map, not pairs': new Uint8Array([0xa1, 0x01, 0x02]),
      'an array claiming 2^32 - 1 pairs': new Uint8Array([0x9b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
      'an array claiming 100,000,000 pairs': new Uint8Array([0x9a, 0x05, 0xf5, 0xe1, 0x00, 0x80]),
      'a string claiming 2 GiB': new Uint8Array([0x81, 0x82, 0x7a, 0x7f, 0xff, 0xff, 0xff, 0x61]),
      'a pair with a number key': new Uint8Array([0x81, 0x82, 0x01, 0x02]),
      'arrays nested 200,000 deep': new Uint8Array(200_000).fill(0x81),
      'pairs and then garbage': Buffer.concat([Buffer.from(kv.snapshot()), Buffer.from([0xff, 0xff])]),
    };
    for (const [name, bytes] of Object.entries(hostile)) {
      let thrown: unknown;
      try {
        kv.restore(bytes);
      } catch (error) {
        thrown = error;
      }
      expect([name, FoundationError.is(thrown) ? thrown.code : thrown]).toEqual([name, 3102]);
      expect(kv.entries()).toEqual(new Map([['kept', 1]]));
    }
  });

  it('checks a snapshot without restoring it: it throws what restore would, and keeps its map', () => {
    // The node asks before it takes a snapshot from another node (see StateMachine.checkSnapshot).
    const source = createKvStateMachine();
    source.apply({ op: 'put', key: 'theirs', value: 2 }, 1);
    const kv = createKvStateMachine();
    kv.apply({ op: 'put', key: 'kept', value: 1 }, 1);
    expect(() => kv.checkSnapshot(source.snapshot())).not.toThrow();
    for (const bytes of [new Uint8Array(0), new Uint8Array([0xa1, 0x01, 0x02]), new Uint8Array([0x81, 0x82, 0x01, 0x02]), new Uint8Array(200_000).fill(0x81)]) {
      const outcome = (run: () => void): unknown => {
        try {
          run();
        } catch (error) {
          return FoundationError.is(error) ? [error.code, error.message] : error;
        }
        return 'accepted';
      };
      const checked = outcome(() => kv.checkSnapshot(bytes));
      expect(checked).toEqual([3102, expect.stringContaining('not a key-value snapshot')]);
      expect(outcome(() => kv.restore(bytes))).toEqual(checked);
    }
    expect(kv.entries()).toEqual(new Map([['kept', 1]]));
  });

  it.each([0, 1, 23, 24, 255, 2_048, 2_049, 70_000])('snapshots %i pairs in pieces that restore the map as it was when they were asked for', (count) => {
    const source = createKvStateMachine();
    for (let index = 0; index < count; index += 1) source.apply({ op: 'put', key: `k${index}`, value: index % 3 === 0 ? { n: index, bytes: new Uint8Array([index & 0xff]) } : index }, index + 1);
    const expected = new Map(source.entries());
    const pieces = source.snapshotPieces!();
    const parts: Uint8Array[] = [];
    let first = true;
    for (let next = pieces.next(); next.done !== true; next = pieces.next()) {
      parts.push(next.value);
      if (first) {
        // Commands applied after the snapshot was asked for are not in it.
        source.apply({ op: 'put', key: 'later', value: 1 }, count + 1);
        source.apply({ op: 'delete', key: 'k0' }, count + 2);
        first = false;
      }
    }
    expect(parts.length).toBe(2 + Math.ceil(count / 2_048));
    const copy = createKvStateMachine();
    copy.restore(Buffer.concat(parts));
    expect(copy.entries()).toEqual(expected);
  });
});
