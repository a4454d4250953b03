// The timed history as operations: each invocation paired with its completion, with times and
// nodes kept, for the checks that need more than the linearizability checker's view.
import { canonical } from '@foundation/testkit';
import type { RaftPosition, TimedEvent } from '../workload/workload';

export interface TimedOperation {
  readonly process: string | number;
  readonly f: string;
  readonly key: string;
  /** put: the value; cas: [expected, new]. */
  readonly input: unknown;
  readonly status: 'ok' | 'fail' | 'info';
  /** get: the value read. */
  readonly output: unknown;
  readonly node: string;
  /** Index of the invoke event in the history. */
  readonly call: number;
  /** Index of the completion event; Infinity when there is none. */
  readonly ret: number;
  readonly invokedMs: number;
  readonly completedMs: number | null;
  readonly error?: string;
  /** put: the previous value the node reported. */
  readonly previous?: unknown;
  /** Where the answering node's Raft stood when it answered. */
  readonly raft?: RaftPosition;
}

export function pairOperations(history: readonly TimedEvent[]): TimedOperation[] {
  const open = new Map<string | number, { event: TimedEvent; index: number }>();
  const operations: TimedOperation[] = [];
  const close = (start: { event: TimedEvent; index: number }, completion: TimedEvent | undefined, index: number): void => {
    operations.push({
      process: start.event.process,
      f: start.event.f,
      key: String(start.event.key),
      input: start.event.value,
      status: completion === undefined ? 'info' : (completion.type as 'ok' | 'fail' | 'info'),
      output: completion?.type === 'ok' ? completion.value : undefined,
      node: start.event.node,
      call: start.index,
      ret: completion === undefined ? Number.POSITIVE_INFINITY : index,
      invokedMs: start.event.time,
      completedMs: completion === undefined ? null : completion.time,
      ...(completion?.error === undefined ? {} : { error: completion.error }),
      ...(completion?.previous === undefined ? {} : { previous: completion.previous }),
      ...(completion?.raft === undefined ? {} : { raft: completion.raft }),
    });
  };
  history.forEach((event, index) => {
    if (event.type === 'invoke') {
      open.set(event.process, { event, index });
      return;
    }
    const start = open.get(event.process);
    if (start === undefined) return;
    open.delete(event.process);
    close(start, event, index);
  });
  for (const start of open.values()) close(start, undefined, Number.POSITIVE_INFINITY);
  return operations.sort((a, b) => a.call - b.call);
}

/** The value an operation writes when it takes effect, or undefined for reads. */
export function writtenValue(operation: TimedOperation): unknown {
  if (operation.f === 'put') return operation.input;
  if (operation.f === 'cas') return (operation.input as readonly unknown[])[1];
  return undefined;
}

/** One line per operation, for reports: `  12.345s  p3 n2 cas k1 [4,9] → ok`. */
export function describeOperation(operation: TimedOperation): string {
  const input = operation.input === undefined ? '' : ` ${canonical(operation.input)}`;
  const result = operation.status === 'ok' ? (operation.f === 'get' ? `ok ${canonical(operation.output)}` : 'ok') : operation.status;
  const end = operation.completedMs === null ? 'never' : `${(operation.completedMs / 1000).toFixed(3)}s`;
  const error = operation.error === undefined ? '' : ` (${operation.error})`;
  const previous = operation.previous === undefined ? '' : ` (previous ${canonical(operation.previous)})`;
  const raft = operation.raft === undefined ? '' : ` [${operation.node} ${operation.raft.role} term ${operation.raft.term}, leader ${operation.raft.leader ?? 'none'}, commit ${operation.raft.commit}, applied ${operation.raft.applied}]`;
  return `${(operation.invokedMs / 1000).toFixed(3)}s–${end} process ${String(operation.process)} on ${operation.node}: ${operation.f} ${operation.key}${input} → ${result}${previous}${error}${raft}`;
}
