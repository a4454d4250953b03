// The checker against an exhaustive reference written from the definitions alone (Herlihy and
// Wing 1990, with Jepsen's conventions for `fail` and `info`), sharing no code with it: its own
// pairing of events, its own sequential key-value semantics over the whole map (no splitting
// by key), and a search that tries every order respecting real time and every subset of the
// operations whose outcome is unknown. Random small histories come from an atomic store whose
// reported results are sometimes corrupted, so both verdicts are common.
import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import type { Random } from '@foundation/core';
import fc from 'fast-check';
import { checkLinearizability } from './checker';
import type { HistoryEvent } from './history';
import { kvModel, registerModel } from './models';

interface ReferenceOperation {
  readonly f: string;
  readonly key: unknown;
  readonly input: unknown;
  readonly output: unknown;
  readonly known: boolean;
  readonly call: number;
  readonly ret: number;
}

const absent = (value: unknown): unknown => (value === undefined ? null : value);

/** Pairs events by process; `fail` drops the operation, `info` or no completion makes it optional. */
function referenceOperations(events: readonly HistoryEvent[]): ReferenceOperation[] {
  const open = new Map<unknown, { event: HistoryEvent; at: number }>();
  const result: ReferenceOperation[] = [];
  const close = (started: { event: HistoryEvent; at: number }, completion: HistoryEvent | undefined, at: number): void => {
    if (completion?.type === 'fail') return;
    const known = completion?.type === 'ok';
    result.push({ f: started.event.f, key: started.event.key, input: started.event.value, output: known ? completion.value : undefined, known, call: started.at, ret: known ? at : Infinity });
  };
  events.forEach((event, at) => {
    if (event.type === 'invoke') {
      if (open.has(event.process)) throw new Error('reference: overlapping operations');
      open.set(event.process, { event, at });
      return;
    }
    const started = open.get(event.process);
    if (started === undefined) throw new Error('reference: completion without invocation');
    open.delete(event.process);
    close(started, event, at);
  });
  for (const started of open.values()) close(started, undefined, Infinity);
  return result;
}

/** The state after `operation`, or undefined when it cannot happen here. */
function apply(state: ReadonlyMap<unknown, unknown>, operation: ReferenceOperation): Map<unknown, unknown> | undefined {
  const current = absent(state.get(operation.key));
  const next = new Map(state);
  switch (operation.f) {
    case 'read':
    case 'get':
      return !operation.known || current === absent(operation.output) ? next : undefined;
    case 'write':
    case 'put':
      next.set(operation.key, absent(operation.input));
      return next;
    case 'delete':
      next.set(operation.key, null);
      return next;
    case 'cas': {
      const [expected, value] = operation.input as [unknown, unknown];
      if (current !== absent(expected)) return undefined;
      next.set(operation.key, absent(value));
      return next;
    }
    default:
      throw new Error(`reference: unknown operation ${operation.f}`);
  }
}

function referenceLinearizable(events: readonly HistoryEvent[]): boolean {
  const operations = referenceOperations(events);
  const placed = operations.map(() => false);
  const search = (state: Map<unknown, unknown>): boolean => {
    let deadline = Infinity;
    operations.forEach((operation, index) => {
      if (!placed[index] && operation.known) deadline = Math.min(deadline, operation.ret);
    });
    if (deadline === Infinity) return true; // every known operation placed; the rest never happened
    for (let index = 0; index < operations.length; index += 1) {
      // Next may come any operation not yet placed that was invoked before every unplaced
      // known operation returned (real-time order).
      if (placed[index] || operations[index]!.call > deadline) continue;
      const after = apply(state, operations[index]!);
      if (after === undefined) continue;
      placed[index] = true;
      const found = search(after);
      placed[index] = false;
      if (found) return true;
    }
    return false;
  };
  return search(new Map());
}

interface Shape {
  readonly operations: number;
  readonly processes: number;
  /** Keys, or 0 for register histories (no key). */
  readonly keys: number;
}

/**
 * A history from an atomic store (each operation takes effect at one point of its interval, or
 * never), then corrupted: a result changed, a success reported for an operation that never took
 * effect, a failure for one that did. Processes sometimes go on after an `info`.
 */
function noisyHistory(random: Random, shape: Shape): HistoryEvent[] {
  const store = new Map<unknown, unknown>();
  const values = [null, 0, 1, 2];
  const names = shape.keys === 0 ? ['read', 'write', 'cas'] : ['get', 'put', 'delete', 'cas'];
  const pending = new Map<number, { event: HistoryEvent; applied: boolean; result: unknown; casHeld: boolean }>();
  const events: HistoryEvent[] = [];
  let started = 0;
  let processes = Array.from({ length: shape.processes }, (_, index) => index);
  let fresh = shape.processes;
  while (started < shape.operations || pending.size > 0) {
    if (started >= shape.operations && random.bool(0.15)) break; // some never complete
    const process = random.pick(processes);
    const operation = pending.get(process);
    if (operation === undefined) {
      if (started >= shape.operations) continue;
      started += 1;
      const f = random.pick(names);
      const key = shape.keys === 0 ? undefined : `k${random.int(0, shape.keys)}`;
      const input = f === 'write' || f === 'put' ? random.int(0, 3) : f === 'cas' ? [random.pick(values), random.int(0, 3)] : undefined;
      const event: HistoryEvent = { type: 'invoke', process, f, ...(key === undefined ? {} : { key }), ...(input === undefined ? {} : { value: input }) };
      events.push(event);
      pending.set(process, { event, applied: false, result: undefined, casHeld: false });
      continue;
    }
    const key = operation.event.key;
    if (!operation.applied && random.bool(0.5)) {
      operation.applied = true;
      const current = store.get(key) ?? null;
      const { f, value } = operation.event;
      if (f === 'read' || f === 'get') operation.result = current;
      else if (f === 'write' || f === 'put') store.set(key, value);
      else if (f === 'delete') store.set(key, null);
      else {
        const [expected, next] = value as [unknown, number];
        operation.casHeld = current === expected;
        if (operation.casHeld) store.set(key, next);
      }
      continue;
    }
    pending.delete(process);
    const { f } = operation.event;
    const roll = random.float();
    let type: HistoryEvent['type'];
    if (roll < 0.12) type = 'info';
    else if (!operation.applied) type = random.bool(0.8) ? 'fail' : 'ok'; // an ok here is a lie
    else if (f === 'cas' && !operation.casHeld) type = random.bool(0.85) ? 'fail' : 'ok';
    else type = random.bool(0.93) ? 'ok' : 'fail';
    let result: unknown;
    if (type === 'ok' && (f === 'read' || f === 'get')) result = random.bool(0.8) && operation.applied ? operation.result : random.pick(values);
    events.push({ type, process, f, ...(result === undefined ? {} : { value: result }) });
    if (type === 'info' && random.bool(0.6)) {
      processes = processes.map((candidate) => (candidate === process ? fresh : candidate));
      fresh += 1;
    }
  }
  return events;
}

/** The history without the operation invoked at `at` (its invocation and its completion). */
function withoutOperation(events: readonly HistoryEvent[], at: number): HistoryEvent[] {
  const completion = events.findIndex((event, index) => index > at && event.process === events[at]!.process);
  return events.filter((_, index) => index !== at && index !== completion);
}

const written = (event: HistoryEvent): unknown =>
  event.f === 'cas' ? absent((event.value as unknown[])[1]) : event.f === 'delete' ? null : absent(event.value);

/** A read, or a write of a value that no other operation read or expected. */
function removableAlone(events: readonly HistoryEvent[], at: number): boolean {
  const invoke = events[at]!;
  if (invoke.f === 'read' || invoke.f === 'get') return true;
  const operations = referenceOperations(withoutOperation(events, at));
  return !operations.some((other) => {
    if (other.f === 'cas') return absent((other.input as unknown[])[0]) === written(invoke);
    return (other.f === 'read' || other.f === 'get') && other.known && absent(other.output) === written(invoke);
  });
}

describe('agreement with an exhaustive reference', () => {
  const seed = Number(process.env.FOUNDATION_SEED ?? 20_261_203);
  const runs = Number(process.env.CHECKER_REFERENCE_RUNS ?? 1200);

  it.each<[string, number, () => ReturnType<typeof kvModel>]>([
    ['a key-value map over two keys', 2, kvModel],
    ['a key-value map over one key', 1, kvModel],
    ['a register', 0, registerModel],
  ])('gives the verdict of trying every order, for %s (property)', (_name, keys, model) => {
    const verdicts = { true: 0, false: 0 };
    // The seed is what replays a failure: FOUNDATION_SEED=<seed>.
    if (keys === 2) console.log(`checker reference comparison: seed=${seed}, runs=${runs} per model (FOUNDATION_SEED replays)`);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 7 }), (historySeed, operations) => {
        const events = noisyHistory(createSeededRandom(historySeed), { operations, processes: 3, keys });
        const expected = referenceLinearizable(events);
        verdicts[`${expected}`] += 1;
        const result = checkLinearizability(events, model());
        expect({ events, valid: result.valid }).toEqual({ events, valid: expected });
        if (result.valid === false) {
          // The minimal sub-history is a well-formed history that is itself not linearizable.
          expect({ minimal: result.minimal, reference: referenceLinearizable(result.minimal) }).toEqual({ minimal: result.minimal, reference: false });
          expect(checkLinearizability(result.minimal, model()).valid).toBe(false);
          // Minimal in the documented sense: dropping a read, or a write whose value no other
          // operation left reads or expects, makes it linearizable.
          for (const [at, event] of result.minimal.entries()) {
            if (event.type !== 'invoke' || !removableAlone(result.minimal, at)) continue;
            expect({ minimal: result.minimal, without: at, reference: referenceLinearizable(withoutOperation(result.minimal, at)) }).toEqual({
              minimal: result.minimal,
              without: at,
              reference: true,
            });
          }
        }
      }),
      { numRuns: runs, seed: seed + keys },
    );
    expect(verdicts.true).toBeGreaterThan(runs / 5);
    expect(verdicts.false).toBeGreaterThan(runs / 8);
  });
});
