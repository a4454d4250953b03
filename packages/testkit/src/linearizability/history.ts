// Histories of client operations, in the form Jepsen records them: an `invoke` event when a
// client starts an operation, then one completion from the same process: `ok` (it took effect,
// with this result), `fail` (it certainly did not take effect) or `info` (unknown: it may take
// effect at any time after its invocation, or never). An invocation with no completion by the
// end of the history counts as `info`. A process runs one operation at a time.
import { SimulationError } from '../errors/simulation-error';

export type HistoryEventType = 'invoke' | 'ok' | 'fail' | 'info';

export interface HistoryEvent {
  readonly type: HistoryEventType;
  /** The client that performed the operation. */
  readonly process: string | number;
  /** The operation's name: read, write, cas, get, put, delete... as the model understands them. */
  readonly f: string;
  /** The key, for models over many keys. */
  readonly key?: unknown;
  /** On invoke: the operation's input. On ok: its result. */
  readonly value?: unknown;
}

/** An operation as the checker sees it: an invocation paired with its completion. */
export interface Operation {
  /** Position among the operations of the history it came from. */
  readonly id: number;
  readonly process: string | number;
  readonly f: string;
  readonly key: unknown;
  readonly input: unknown;
  /** The result, for `ok` operations; undefined for `info` ones. */
  readonly output: unknown;
  readonly status: 'ok' | 'info';
  /** Index of the invoke event in the history. */
  readonly call: number;
  /** Index of the completion event; Infinity for `info` operations. */
  readonly ret: number;
}

/** The error for a history the checker cannot read: `index` is the event's position, -1 for the whole. */
export function malformed(message: string, index: number): SimulationError {
  return new SimulationError({ kind: 'malformedHistory', message: `history event ${index}: ${message}`, context: { index } });
}

const EVENT_TYPES: readonly string[] = ['invoke', 'ok', 'fail', 'info'];

function readEvent(raw: unknown, index: number): HistoryEvent {
  if (raw === null || typeof raw !== 'object') throw malformed('not an object', index);
  const event = raw as Record<string, unknown>;
  if (typeof event.type !== 'string' || !EVENT_TYPES.includes(event.type)) throw malformed(`unknown event type ${JSON.stringify(event.type)}`, index);
  if (typeof event.process !== 'string' && typeof event.process !== 'number') throw malformed('process must be a string or a number', index);
  if (typeof event.f !== 'string') throw malformed('f must be a string', index);
  return raw as HistoryEvent;
}

/**
 * Pairs invocations with completions. `fail`ed operations are left out (they did not happen);
 * `info` and unfinished ones are kept with an unknown result and no end. Throws a
 * SimulationError (kind `malformedHistory`) for a completion without an invocation, a second
 * invocation while one is pending, or a completion naming another operation.
 */
export function toOperations(history: readonly HistoryEvent[]): Operation[] {
  const input: unknown = history;
  if (!Array.isArray(input)) throw malformed('a history is an array of events', -1);
  const pending = new Map<string | number, { event: HistoryEvent; index: number }>();
  const paired: { invoke: HistoryEvent; call: number; completion: HistoryEvent | undefined; ret: number }[] = [];
  (input as unknown[]).forEach((raw, index) => {
    const event = readEvent(raw, index);
    const { type, process } = event;
    if (type === 'invoke') {
      if (pending.has(process)) throw malformed(`process ${String(process)} invoked ${event.f} while an operation was pending`, index);
      pending.set(process, { event, index });
      return;
    }
    const started = pending.get(process);
    if (started === undefined) throw malformed(`${type} for process ${String(process)}, which has no pending operation`, index);
    if (started.event.f !== event.f) throw malformed(`${type} ${event.f} completes ${started.event.f}`, index);
    pending.delete(process);
    paired.push({ invoke: started.event, call: started.index, completion: event, ret: index });
  });
  for (const { event, index } of pending.values()) paired.push({ invoke: event, call: index, completion: undefined, ret: Number.POSITIVE_INFINITY });
  paired.sort((a, b) => a.call - b.call);
  const operations: Operation[] = [];
  for (const { invoke, call, completion, ret } of paired) {
    if (completion?.type === 'fail') continue;
    const known = completion?.type === 'ok';
    operations.push({
      id: operations.length,
      process: invoke.process,
      f: invoke.f,
      key: invoke.key,
      input: invoke.value,
      output: known ? completion.value : undefined,
      status: known ? 'ok' : 'info',
      call,
      ret: known ? ret : Number.POSITIVE_INFINITY,
    });
  }
  return operations;
}

/**
 * The history of a set of operations as events, invocations and completions in their original
 * order. An `info` operation's completion comes just before its process's next invocation, or
 * after everything else when the process invoked nothing more (its position does not matter to
 * the checker, which lets an `info` operation take effect at any time after its invocation;
 * placing it there keeps a process to one operation at a time, so the result is well formed).
 */
export function toHistory(operations: readonly Operation[]): HistoryEvent[] {
  const points: { index: number; event: HistoryEvent }[] = [];
  const unfinished: HistoryEvent[] = [];
  const callsByProcess = new Map<string | number, number[]>();
  for (const operation of operations) {
    const calls = callsByProcess.get(operation.process);
    if (calls === undefined) callsByProcess.set(operation.process, [operation.call]);
    else calls.push(operation.call);
  }
  // Sorted, so that an info operation finds its process's next invocation by binary search
  // (scanning them all made a process with many info operations quadratic).
  for (const calls of callsByProcess.values()) calls.sort((a, b) => a - b);
  for (const operation of operations) {
    const base = { process: operation.process, f: operation.f, ...(operation.key === undefined ? {} : { key: operation.key }) };
    points.push({ index: operation.call, event: { type: 'invoke', ...base, ...(operation.input === undefined ? {} : { value: operation.input }) } });
    if (operation.status === 'ok') {
      points.push({ index: operation.ret, event: { type: 'ok', ...base, ...(operation.output === undefined ? {} : { value: operation.output }) } });
      continue;
    }
    const nextCall = firstAfter(callsByProcess.get(operation.process)!, operation.call);
    if (nextCall === Number.POSITIVE_INFINITY) unfinished.push({ type: 'info', ...base });
    else points.push({ index: nextCall - 0.5, event: { type: 'info', ...base } });
  }
  points.sort((a, b) => a.index - b.index);
  return [...points.map((point) => point.event), ...unfinished];
}

/** The first of the ascending `values` greater than `value`; Infinity when none is. */
function firstAfter(values: readonly number[], value: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle]! > value) high = middle;
    else low = middle + 1;
  }
  return low < values.length ? values[low]! : Number.POSITIVE_INFINITY;
}

export interface PendingOperation {
  readonly process: string | number;
  readonly f: string;
}

/** Records a history as a client workload runs. */
export interface HistoryRecorder {
  invoke(process: string | number, f: string, options?: { readonly key?: unknown; readonly value?: unknown }): PendingOperation;
  ok(operation: PendingOperation, value?: unknown): void;
  fail(operation: PendingOperation): void;
  info(operation: PendingOperation): void;
  events(): readonly HistoryEvent[];
}

export function createHistoryRecorder(): HistoryRecorder {
  const events: HistoryEvent[] = [];
  const complete = (type: 'ok' | 'fail' | 'info', operation: PendingOperation, value?: unknown): void => {
    events.push({ type, process: operation.process, f: operation.f, ...(value === undefined ? {} : { value }) });
  };
  return {
    invoke(process, f, options = {}) {
      events.push({
        type: 'invoke',
        process,
        f,
        ...(options.key === undefined ? {} : { key: options.key }),
        ...(options.value === undefined ? {} : { value: options.value }),
      });
      return { process, f };
    },
    ok: (operation, value) => complete('ok', operation, value),
    fail: (operation) => complete('fail', operation),
    info: (operation) => complete('info', operation),
    events: () => events,
  };
}
