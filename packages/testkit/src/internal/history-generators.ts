// Random histories for the checker's tests and benchmark: one generator that is linearizable
// by construction (each operation takes effect atomically at a random point of its interval),
// and one with arbitrary results (usually not linearizable).
import type { Random } from '@foundation/core';
import type { HistoryEvent } from '../linearizability/history';

export interface GeneratorOptions {
  readonly operations: number;
  readonly processes: number;
  readonly keys?: number;
  readonly values?: number;
  /** Probability that a completed operation is reported as info instead of ok. */
  readonly infoRate?: number;
}

interface Pending {
  readonly f: string;
  readonly key: number | undefined;
  readonly input: unknown;
  applied: boolean;
  result: unknown;
}

/** A history from an atomic key-value store: linearizable by construction. */
export function atomicHistory(random: Random, options: GeneratorOptions): HistoryEvent[] {
  const keys = options.keys ?? 1;
  const values = options.values ?? 5;
  const infoRate = options.infoRate ?? 0;
  const store = new Map<number, unknown>();
  const pending = new Map<number, Pending>();
  const events: HistoryEvent[] = [];
  let started = 0;
  let nextProcess = options.processes;
  const processes = Array.from({ length: options.processes }, (_, index) => index);
  while (started < options.operations || pending.size > 0) {
    const slot = random.int(0, processes.length);
    const process = processes[slot]!;
    const operation = pending.get(process);
    if (operation === undefined) {
      if (started >= options.operations) continue;
      started += 1;
      const key = keys > 1 ? random.int(0, keys) : undefined;
      const choice = random.int(0, 3);
      const f = choice === 0 ? 'read' : choice === 1 ? 'write' : 'cas';
      const input = f === 'write' ? random.int(0, values) : f === 'cas' ? [random.int(0, values), random.int(0, values)] : undefined;
      pending.set(process, { f, key, input, applied: false, result: undefined });
      events.push({ type: 'invoke', process, f, ...(key === undefined ? {} : { key }), ...(input === undefined ? {} : { value: input }) });
      continue;
    }
    const storeKey = operation.key ?? 0;
    if (!operation.applied && random.bool(0.6)) {
      operation.applied = true;
      const current = store.get(storeKey) ?? null;
      if (operation.f === 'read') operation.result = current;
      else if (operation.f === 'write') store.set(storeKey, operation.input);
      else {
        const [expected, next] = operation.input as [number, number];
        operation.result = current === expected;
        if (current === expected) store.set(storeKey, next);
      }
      continue;
    }
    if (!operation.applied) {
      if (random.bool(0.1)) {
        // Never applied: the client gives up, with an error that says so or one that does not.
        pending.delete(process);
        const type = random.bool(0.5) ? 'fail' : 'info';
        events.push({ type, process, f: operation.f });
        if (type === 'info') processes[slot] = nextProcess++;
      }
      continue;
    }
    pending.delete(process);
    if (random.bool(infoRate)) {
      events.push({ type: 'info', process, f: operation.f });
      processes[slot] = nextProcess++;
    } else if (operation.f === 'cas' && operation.result === false) {
      events.push({ type: 'fail', process, f: 'cas' });
    } else {
      events.push({ type: 'ok', process, f: operation.f, ...(operation.f === 'read' ? { value: operation.result } : {}) });
    }
  }
  return events;
}

/** A history whose results are chosen at random: rarely linearizable once it has a few reads. */
export function arbitraryHistory(random: Random, options: GeneratorOptions): HistoryEvent[] {
  const values = options.values ?? 3;
  const pending = new Map<number, string>();
  const events: HistoryEvent[] = [];
  let started = 0;
  let nextProcess = options.processes;
  const processes = Array.from({ length: options.processes }, (_, index) => index);
  while (started < options.operations || pending.size > 0) {
    const slot = random.int(0, processes.length);
    const process = processes[slot]!;
    const f = pending.get(process);
    if (f === undefined) {
      if (started >= options.operations) continue;
      started += 1;
      const choice = random.int(0, 3);
      const name = choice === 0 ? 'read' : choice === 1 ? 'write' : 'cas';
      pending.set(process, name);
      const input = name === 'write' ? random.int(0, values) : name === 'cas' ? [random.int(0, values), random.int(0, values)] : undefined;
      events.push({ type: 'invoke', process, f: name, ...(input === undefined ? {} : { value: input }) });
      continue;
    }
    pending.delete(process);
    const roll = random.float();
    if (roll < 0.15) {
      events.push({ type: 'info', process, f });
      processes[slot] = nextProcess++;
    } else if (roll < 0.25) {
      events.push({ type: 'fail', process, f });
    } else {
      const value = f === 'read' ? (random.bool(0.2) ? null : random.int(0, values)) : undefined;
      events.push({ type: 'ok', process, f, ...(value === undefined ? {} : { value }) });
    }
  }
  return events;
}
