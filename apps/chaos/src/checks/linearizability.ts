// The history against a sequential key-value store, with @foundation/testkit's checker.
// Unknown outcomes stay in the history as `info` (they may have taken effect at any time after
// their invocation, or never); only operations known not to have happened are `fail`.
import { canonical, checkLinearizability, kvModel } from '@foundation/testkit';
import type { TimedEvent } from '../workload/workload';
import { describeOperation, pairOperations } from './operations';
import type { CheckOutcome } from './outcome';

/**
 * The history as the checker reads it. An acknowledged put that reported the value it replaced
 * (`previous`) is checked as the compare-and-set it amounts to, [previous, value]: the state
 * machine applied it where the key held `previous`. kvModel ignores a put's result, so a put that
 * reported a value the key could not have held then passed unseen. Positions are kept, so an
 * operation's `call` is the same in both histories.
 */
export function checkedHistory(history: readonly TimedEvent[]): TimedEvent[] {
  const checked = [...history];
  const open = new Map<string | number, number>();
  history.forEach((event, index) => {
    if (event.type === 'invoke') {
      open.set(event.process, index);
      return;
    }
    const start = open.get(event.process);
    open.delete(event.process);
    if (start === undefined || event.type !== 'ok' || event.f !== 'put' || event.previous === undefined) return;
    const invoke = history[start]!;
    checked[start] = { ...invoke, f: 'cas', value: [event.previous, invoke.value] };
    checked[index] = { ...event, f: 'cas' };
  });
  return checked;
}

export function checkHistoryLinearizable(history: readonly TimedEvent[], options: { readonly maxSteps?: number } = {}): CheckOutcome {
  const checked = checkedHistory(history);
  const result = checkLinearizability(checked, kvModel(), { maxSteps: options.maxSteps ?? 20_000_000 });
  const counted = `${result.operations} operations over ${result.partitions} keys, ${result.steps} search steps`;
  if (result.valid === true) return { name: 'linearizable', status: 'pass', summary: counted, details: [] };
  if (result.valid === 'unknown') {
    return { name: 'linearizable', status: 'unknown', summary: `search gave up on key ${canonical(result.partition)}: ${result.reason}`, details: [counted] };
  }
  // Find the minimal failing sub-history's operations in the timed history: an invocation with
  // its completion (the next event of its process) names one operation by process, operation,
  // key, input, outcome and the value read (write values are unique).
  const operations = pairOperations(checked);
  const original = new Map(pairOperations(history).map((operation) => [operation.call, operation]));
  const excerpt: string[] = [];
  result.minimal.forEach((event, index) => {
    if (event.type !== 'invoke') return;
    const completion = result.minimal.slice(index + 1).find((later) => later.process === event.process);
    const status = completion?.type ?? 'info';
    const match = operations.find(
      (operation) =>
        operation.process === event.process &&
        operation.f === event.f &&
        operation.key === String(event.key) &&
        canonical(operation.input) === canonical(event.value) &&
        operation.status === status &&
        (status !== 'ok' || event.f !== 'get' || canonical(operation.output) === canonical(completion?.value)),
    );
    excerpt.push(match === undefined ? `(not found) ${JSON.stringify(event)} → ${JSON.stringify(completion)}` : describeOperation(original.get(match.call) ?? match));
  });
  const asCas = excerpt.some((line) => / put .* → ok \(previous /.test(line));
  return {
    name: 'linearizable',
    status: 'fail',
    summary: `NOT linearizable on key ${canonical(result.partition)} (${counted})`,
    details: [
      result.explanation,
      ...(asCas ? ['(an acknowledged put is checked as a cas from the previous value it reported to its new value)'] : []),
      'minimal failing sub-history:',
      ...excerpt.map((line) => `  ${line}`),
    ],
  };
}
