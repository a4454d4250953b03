// Linearizability checking after Wing and Gong (1993) with Lowe's improvements (2017): a
// depth-first search that linearizes one pending operation at a time, in an order consistent
// with real time, memoising every (set of linearized operations, model state) pair already
// explored so that no configuration is searched twice. Histories whose model splits them into
// independent parts (one per key) are checked part by part, which is what keeps a 10,000
// operation, 100-key history fast (P-compositionality, Horn and Kroening 2015).
import { mix32 } from '@foundation/core';
import { toHistory, toOperations } from './history';
import type { HistoryEvent, Operation } from './history';
import { INCONSISTENT, canonical } from './models';
import type { Model } from './models';

export interface CheckOptions {
  /** Search steps allowed per part before answering `unknown`. Default 10,000,000. */
  readonly maxSteps?: number;
  /** Shrink a failing part to a minimal failing sub-history. Default true. */
  readonly minimize?: boolean;
}

export interface LinearizableResult {
  readonly valid: true;
  readonly operations: number;
  readonly partitions: number;
  readonly steps: number;
}

export interface NotLinearizableResult {
  readonly valid: false;
  readonly operations: number;
  readonly partitions: number;
  readonly steps: number;
  /** The part (key) that is not linearizable; undefined for models that do not split. */
  readonly partition: unknown;
  /**
   * A sub-history of the failing part that is itself not linearizable, reduced until removing
   * any further operation that can soundly be removed would make it linearizable.
   */
  readonly minimal: readonly HistoryEvent[];
  /** How far the search got, and which operations it could not place. */
  readonly explanation: string;
}

export interface UnknownResult {
  readonly valid: 'unknown';
  readonly operations: number;
  readonly partitions: number;
  readonly steps: number;
  readonly partition: unknown;
  readonly reason: string;
}

export type CheckResult = LinearizableResult | NotLinearizableResult | UnknownResult;

type SearchOutcome =
  | { readonly kind: 'linearizable'; readonly steps: number }
  | { readonly kind: 'not-linearizable'; readonly steps: number; readonly longest: readonly Operation[]; readonly stuck: readonly Operation[] }
  | { readonly kind: 'unknown'; readonly steps: number };

/**
 * Searches for a linearization of `operations` (all of one part). Info operations may be
 * placed anywhere after their invocation, or left out.
 */
export function searchLinearization<State>(operations: readonly Operation[], model: Model<State>, maxSteps: number): SearchOutcome {
  const count = operations.length;
  if (count === 0) return { kind: 'linearizable', steps: 0 };
  // Entries 2i (call of operation i) and 2i + 1 (its return) in a circular doubly linked list
  // ordered by time, with a sentinel. Info operations return at Infinity: after everything.
  const sentinel = 2 * count;
  const next = new Int32Array(2 * count + 1);
  const previous = new Int32Array(2 * count + 1);
  const order: number[] = [];
  for (let index = 0; index < count; index += 1) order.push(2 * index, 2 * index + 1);
  const timeOf = (entry: number): number => {
    const operation = operations[entry >> 1]!;
    return (entry & 1) === 0 ? operation.call : operation.ret;
  };
  order.sort((a, b) => timeOf(a) - timeOf(b) || operations[a >> 1]!.call - operations[b >> 1]!.call || a - b);
  let last = sentinel;
  for (const entry of order) {
    next[last] = entry;
    previous[entry] = last;
    last = entry;
  }
  next[last] = sentinel;
  previous[sentinel] = last;

  const lift = (index: number): void => {
    const call = 2 * index;
    const ret = call + 1;
    next[previous[call]!] = next[call]!;
    previous[next[call]!] = previous[call]!;
    next[previous[ret]!] = next[ret]!;
    previous[next[ret]!] = previous[ret]!;
  };
  const unlift = (index: number): void => {
    const call = 2 * index;
    const ret = call + 1;
    next[previous[ret]!] = ret;
    previous[next[ret]!] = ret;
    next[previous[call]!] = call;
    previous[next[call]!] = call;
  };

  // Linearized set as a bitset with an incremental two-lane Zobrist hash.
  const words = (count + 31) >>> 5;
  const bits = new Uint32Array(words);
  const zobristA = new Int32Array(count);
  const zobristB = new Int32Array(count);
  for (let index = 0; index < count; index += 1) {
    zobristA[index] = mix32(index * 2 + 1);
    zobristB[index] = mix32(index * 2 + 0x5bd1_e995);
  }
  let hashA = 0;
  let hashB = 0;
  const seen = new Map<string, Uint32Array[]>();
  const remember = (stateKey: string): boolean => {
    const key = `${hashA}:${hashB}:${stateKey}`;
    const bucket = seen.get(key);
    if (bucket !== undefined) {
      for (const candidate of bucket) {
        let same = true;
        for (let word = 0; word < words && same; word += 1) same = candidate[word] === bits[word];
        if (same) return false;
      }
      bucket.push(bits.slice());
    } else {
      seen.set(key, [bits.slice()]);
    }
    return true;
  };
  const toggle = (index: number): void => {
    bits[index >>> 5]! ^= 1 << (index & 31);
    hashA ^= zobristA[index]!;
    hashB ^= zobristB[index]!;
  };

  let state = model.init();
  const stackOperations: number[] = [];
  const stackStates: State[] = [];
  let longest: number[] = [];
  let steps = 0;
  let entry = next[sentinel]!;
  while (entry !== sentinel) {
    steps += 1;
    if (steps > maxSteps) return { kind: 'unknown', steps };
    const index = entry >> 1;
    const operation = operations[index]!;
    if ((entry & 1) === 0) {
      const after = model.step(state, operation);
      if (after !== INCONSISTENT) {
        toggle(index);
        if (remember(model.key(after))) {
          stackOperations.push(index);
          stackStates.push(state);
          state = after;
          lift(index);
          entry = next[sentinel]!;
          continue;
        }
        toggle(index);
      }
      entry = next[entry]!;
      continue;
    }
    // A return entry: its operation was not linearized before it had to be.
    if (operation.status === 'info') {
      // Returns of info operations come after every ok return, so every ok operation is
      // linearized; the info operations left never took effect.
      return { kind: 'linearizable', steps };
    }
    // Backtracking: remember the deepest partial linearization, for the explanation.
    if (stackOperations.length > longest.length) longest = stackOperations.slice();
    if (stackOperations.length === 0) {
      return { kind: 'not-linearizable', steps, longest: longest.map((at) => operations[at]!), stuck: stuckAfter(longest, operations) };
    }
    const undone = stackOperations.pop()!;
    state = stackStates.pop()!;
    toggle(undone);
    unlift(undone);
    entry = next[2 * undone]!;
  }
  return { kind: 'linearizable', steps };
}

/** The ok operations that had to be placed next after the longest linearized prefix. */
function stuckAfter(longest: readonly number[], operations: readonly Operation[]): Operation[] {
  const placed = new Set(longest);
  const remaining = operations.filter((operation) => !placed.has(operation.id));
  // A loop, not Math.min(...returns): a part can hold more operations than a call has room for arguments.
  let firstReturn = Number.POSITIVE_INFINITY;
  for (const operation of remaining) if (operation.status === 'ok' && operation.ret < firstReturn) firstReturn = operation.ret;
  return remaining.filter((operation) => operation.call < firstReturn && operation.status === 'ok');
}

function renumber(operations: readonly Operation[]): Operation[] {
  return operations.map((operation, id) => (operation.id === id ? operation : { ...operation, id }));
}

function isLinearizable<State>(operations: readonly Operation[], model: Model<State>, maxSteps: number): boolean | 'unknown' {
  const outcome = searchLinearization(renumber(operations), model, maxSteps);
  return outcome.kind === 'unknown' ? 'unknown' : outcome.kind === 'linearizable';
}

/**
 * The history cut at event index `cut`: operations invoked before it, those that completed
 * later turned into info (their result not yet known). If a cut is not linearizable, neither
 * is the whole: a linearization of the whole, restricted to the operations invoked before the
 * cut, is one of the cut.
 */
function cutAt<State>(operations: readonly Operation[], cut: number, model: Model<State>): Operation[] {
  const result: Operation[] = [];
  for (const operation of operations) {
    if (operation.call >= cut) continue;
    if (operation.ret < cut) result.push(operation);
    else if (model.readOnly?.(operation) !== true) result.push({ ...operation, status: 'info', output: undefined, ret: Number.POSITIVE_INFINITY });
  }
  return result;
}

/**
 * The operations of `operations` whose removal keeps "the reduced history is not linearizable"
 * a proof that the original is not. Reads can always go. A write can go when no other operation
 * observes its value: in any linearization it is then directly followed by another write (or
 * nothing), so dropping it changes no result. Removing operations only takes observers away, so
 * any subset of these can go at once (one sound removal after another).
 */
function soundlyRemovable<State>(operations: readonly Operation[], model: Model<State>): Operation[] {
  if (model.observes === undefined || model.writes === undefined) return operations.filter((operation) => model.readOnly?.(operation) === true);
  // How many operations observe each value, so that each write is judged without a pass over all the others.
  const observers = new Map<string, number>();
  const observedBy = operations.map((operation) => model.observes!(operation).map((value) => model.key(value as State)));
  for (const keys of observedBy) for (const key of new Set(keys)) observers.set(key, (observers.get(key) ?? 0) + 1);
  return operations.filter((operation, index) => {
    if (model.readOnly?.(operation) === true) return true;
    const written = model.writes!(operation);
    if (written === undefined) return false;
    const writtenKey = model.key(written.value as State);
    const own = observedBy[index]!.includes(writtenKey) ? 1 : 0;
    return (observers.get(writtenKey) ?? 0) - own === 0;
  });
}

/** Shrinks a non-linearizable part to a 1-minimal non-linearizable sub-history. */
function minimize<State>(operations: readonly Operation[], model: Model<State>, maxSteps: number): Operation[] {
  // 1. The shortest failing cut (failure is monotone in the cut point, so bisect).
  const cuts = [...new Set(operations.filter((operation) => operation.status === 'ok').map((operation) => operation.ret + 1))].sort((a, b) => a - b);
  let low = 0;
  let high = cuts.length - 1;
  let current: Operation[] = [...operations];
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const candidate = cutAt(operations, cuts[middle]!, model);
    if (isLinearizable(candidate, model, maxSteps) === false) {
      current = candidate;
      high = middle - 1;
    } else {
      low = middle + 1;
    }
  }
  // 2. Drop removable operations while the rest still fails, in groups that halve down to one
  // operation (as delta debugging does): trying them one at a time, each with a search of the
  // whole rest, costs the square of the history's length, minutes for a few thousand operations.
  // A round that drops nothing ends with every removable operation tried alone, so the result
  // is 1-minimal; dropping operations can make more writes removable, hence the rounds.
  let changed = true;
  while (changed) {
    changed = false;
    const removable = soundlyRemovable(current, model);
    const gone = new Set<Operation>();
    for (let size = Math.ceil(removable.length / 2); size >= 1; size = size === 1 ? 0 : Math.ceil(size / 2)) {
      for (let end = removable.length; end > 0; end -= size) {
        const group = new Set(removable.slice(Math.max(0, end - size), end).filter((operation) => !gone.has(operation)));
        if (group.size === 0) continue;
        const without = current.filter((operation) => !group.has(operation));
        if (isLinearizable(without, model, maxSteps) === false) {
          current = without;
          for (const operation of group) gone.add(operation);
          changed = true;
        }
      }
    }
  }
  return current;
}

function describe<State>(operation: Operation, model: Model<State>): string {
  return model.describe?.(operation) ?? `process ${String(operation.process)}: ${operation.f}`;
}

/**
 * Leaves out `info` operations whose effect nobody could have seen: a write (or cas) of a value
 * that no operation read or expected. This keeps the verdict exactly: a linearization that
 * places such an operation has it followed directly by another write (or by nothing), so it can
 * be dropped; and a linearization without it is one where it never took effect, which `info`
 * allows. Jepsen-style histories (unique values, clients that time out) are full of these, and
 * each one left in multiplies the places the search must try.
 */
function withoutUnobservableInfo<State>(operations: readonly Operation[], model: Model<State>): Operation[] {
  if (model.observes === undefined || model.writes === undefined) return [...operations];
  const observed = new Set<string>();
  for (const operation of operations) for (const value of model.observes(operation)) observed.add(model.key(value as State));
  return operations.filter((operation) => {
    if (operation.status !== 'info') return true;
    const written = model.writes!(operation);
    return written === undefined || observed.has(model.key(written.value as State));
  });
}

/**
 * Checks that `history` is linearizable with respect to `model`. Returns a verdict; when the
 * history is not linearizable, also the failing part, a minimal failing sub-history and an
 * explanation. Throws a SimulationError only for a malformed history.
 */
export function checkLinearizability<State>(history: readonly HistoryEvent[], model: Model<State>, options: CheckOptions = {}): CheckResult {
  const maxSteps = options.maxSteps ?? 10_000_000;
  const all = toOperations(history).filter((operation) => !(operation.status === 'info' && model.readOnly?.(operation) === true));
  const parts = model.partition === undefined ? new Map<unknown, Operation[]>([[undefined, all]]) : model.partition(all);
  let steps = 0;
  for (const [partition, part] of parts) {
    const operations = renumber(withoutUnobservableInfo(part, model));
    const outcome = searchLinearization(operations, model, maxSteps);
    steps += outcome.steps;
    if (outcome.kind === 'unknown') {
      return {
        valid: 'unknown',
        operations: all.length,
        partitions: parts.size,
        steps,
        partition,
        reason: `the search gave up after ${maxSteps} steps on a part of ${operations.length} operations`,
      };
    }
    if (outcome.kind === 'not-linearizable') {
      const minimal = options.minimize === false ? operations : minimize(operations, model, maxSteps);
      const stuck = outcome.stuck.map((operation) => describe(operation, model)).join('; ');
      return {
        valid: false,
        operations: all.length,
        partitions: parts.size,
        steps,
        partition,
        minimal: toHistory(minimal),
        explanation:
          `linearized at most ${outcome.longest.length} of ${operations.length} operations` +
          (model.partition === undefined ? '' : ` for key ${canonical(partition)}`) +
          `; none of these could come next: ${stuck}`,
      };
    }
  }
  return { valid: true, operations: all.length, partitions: parts.size, steps };
}
