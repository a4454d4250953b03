// A replicated key-value map, usable directly and used by the tests as the model: put, delete
// and compare-and-set as commands (through the log), get as a linearizable query.
import { FoundationError, isWellFormed } from '@foundation/core';
import { Encoder } from 'cbor-x';
import type { StateMachine } from '../driver/state-machine';

export type KvCommand =
  | { readonly op: 'put'; readonly key: string; readonly value: unknown }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: unknown; readonly value: unknown };

export type KvResult =
  | { readonly op: 'put'; readonly previous: unknown }
  | { readonly op: 'delete'; readonly existed: boolean }
  | { readonly op: 'cas'; readonly ok: boolean; readonly current: unknown };

export type KvQuery = { readonly op: 'get'; readonly key: string } | { readonly op: 'size' };

export type KvQueryResult = unknown;

const encoder = new Encoder({ useRecords: false, structuredClone: false });

/** Pairs serialised per piece by `snapshotPieces` (about a millisecond of encoding). */
const PAIRS_PER_PIECE = 2048;

/** Bytes of the head of a CBOR array (major type 4) of `count` items. */
function arrayHeadBytes(count: number): number {
  if (count < 24) return 1;
  if (count < 0x100) return 2;
  if (count < 0x10000) return 3;
  return 5;
}

/**
 * The pairs as one CBOR array of indefinite length (0x9f, the items, 0xff), which decodes to the
 * same array as `snapshot()` gives: a piece is a slice of pairs encoded as an array, less its
 * head. Each is copied out of the encoder's buffer, which the next encoding reuses.
 */
function* pairPieces(pairs: readonly (readonly [string, unknown])[]): Generator<Uint8Array> {
  yield Uint8Array.of(0x9f);
  for (let start = 0; start < pairs.length; start += PAIRS_PER_PIECE) {
    const slice = pairs.slice(start, start + PAIRS_PER_PIECE);
    yield Uint8Array.from((encoder.encode(slice) as Uint8Array).subarray(arrayHeadBytes(slice.length)));
  }
  yield Uint8Array.of(0xff);
}

/** Value equality for compare-and-set: primitives by value, structures by their CBOR bytes. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((a === undefined || a === null) && (b === undefined || b === null)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return Buffer.from(encoder.encode(a) as Uint8Array).equals(Buffer.from(encoder.encode(b) as Uint8Array));
}

/**
 * A value as the map hands it out: primitives as they are, anything else as a copy (through the
 * encoding snapshots use, so it is the value every replica holds). Handed out itself, the stored
 * object was the caller's to change: a read whose answer was then changed changed this replica
 * alone, and its later reads, compare-and-sets and snapshots disagreed with the other nodes.
 */
function detached(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  // Decoded from a copy of the bytes: byte strings decode as views of their input, which is the
  // encoder's shared buffer.
  return encoder.decode(Uint8Array.prototype.slice.call(encoder.encode(value)));
}

/**
 * Throws for a key holding a lone surrogate (half of a pair, as `'😀'.slice(0, 1)` gives). UTF-8
 * has no form for it: the log's CBOR writes it as U+FFFD, so '\uD800' and '\uDC00' were one key
 * in the map, and a read with the key as given found nothing. Values are not checked: a value's
 * lone surrogate reaches every node as the same U+FFFD, and a value names nothing.
 */
function checkKey(key: unknown): void {
  if (typeof key !== 'string' || isWellFormed(key)) return;
  // The key escaped: the lone surrogate itself would print (and log) as U+FFFD.
  const escaped = JSON.stringify(key).slice(1, -1);
  throw new FoundationError({
    type: 'invalid_input',
    message: `key "${escaped}" holds a lone surrogate, which the log cannot carry: it would be stored as U+FFFD`,
    context: { key: escaped },
  });
}

export interface KvStateMachine extends StateMachine<KvCommand, KvResult, KvQuery, KvQueryResult> {
  /** Throws (FoundationError, `invalid_input`) for a command whose key holds a lone surrogate. */
  checkCommand(command: KvCommand): void;
  /** Throws (FoundationError, `invalid_input`) for a get whose key holds a lone surrogate. */
  checkQuery(query: KvQuery): void;
  /**
   * The current map (read it only through `read` on the node for linearizability). Its values are
   * the stored ones, not copies: changing one changes this replica alone.
   */
  entries(): ReadonlyMap<string, unknown>;
  /** Throws what `restore` would for bytes that are not a key-value snapshot. */
  checkSnapshot(data: Uint8Array): void;
}

/**
 * The map a snapshot holds. Whatever is wrong with the bytes (not CBOR, cut short, too deeply
 * nested, not pairs), it throws a FoundationError (`deserialization_failed`) saying so, and the
 * map the caller holds stays as it was.
 */
function readSnapshot(data: Uint8Array): Map<string, unknown> {
  const refuse = (reason: string, cause?: unknown): never => {
    throw new FoundationError({
      type: 'deserialization_failed',
      message: `not a key-value snapshot (${data.byteLength} bytes): ${reason}`,
      context: { bytes: data.byteLength, reason },
      ...(cause === undefined ? {} : { cause }),
    });
  };
  let decoded: unknown;
  try {
    decoded = encoder.decode(data);
  } catch (error) {
    refuse(error instanceof Error ? error.message : String(error), error);
  }
  if (!Array.isArray(decoded)) return refuse('not an array of [key, value] pairs');
  const map = new Map<string, unknown>();
  for (const pair of decoded as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') return refuse('a pair is not [string key, value]');
    map.set(pair[0], pair[1]);
  }
  return map;
}

export function createKvStateMachine(): KvStateMachine {
  let map = new Map<string, unknown>();
  return {
    apply(command) {
      // A command that is not an object with a string key (from an untyped caller, or an older
      // client) is refused as an unknown one is, the same way on every node: applied, a null
      // command threw on every replica, and a non-string key made every snapshot unreadable.
      if (command === null || typeof command !== 'object' || typeof (command as { key?: unknown }).key !== 'string') return { op: 'cas', ok: false, current: null };
      switch (command.op) {
        case 'put': {
          const previous = detached(map.get(command.key) ?? null);
          map.set(command.key, command.value);
          return { op: 'put', previous };
        }
        case 'delete':
          return { op: 'delete', existed: map.delete(command.key) };
        case 'cas': {
          const current = map.get(command.key) ?? null;
          if (!sameValue(current, command.expected)) return { op: 'cas', ok: false, current: detached(current) };
          map.set(command.key, command.value);
          return { op: 'cas', ok: true, current: detached(command.value) };
        }
        default:
          // A command this version does not know: refuse it the same way on every node.
          return { op: 'cas', ok: false, current: null };
      }
    },
    // At propose and read only: `apply` takes a key as the log holds it, as it always did.
    checkCommand(command) {
      if (command !== null && typeof command === 'object') checkKey((command as { key?: unknown }).key);
    },
    checkQuery(query) {
      if (query !== null && typeof query === 'object' && query.op === 'get') checkKey(query.key);
    },
    query(query) {
      if (query.op === 'size') return map.size;
      return detached(map.get(query.key) ?? null);
    },
    snapshot: () => encoder.encode([...map.entries()]),
    // Copying the pairs is the only work done at once; values are never changed in place.
    snapshotPieces: () => pairPieces([...map.entries()]),
    checkSnapshot(data) {
      readSnapshot(data);
    },
    restore(data) {
      map = readSnapshot(data);
    },
    entries: () => map,
  };
}
