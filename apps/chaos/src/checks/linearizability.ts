// The history against a sequential key-value store, with @foundation/testkit's checker.
// Unknown outcomes stay in the history as `info` (they may have taken effect at any time after
// their invocation, or never); only operations known not to have happened are `fail`.
import { canonical, checkLinearizability, kvModel } from '@foundation/testkit';
import type { TimedEvent } from '../workload/workload';
import { describeOperation, pairOperations } from './operations';
import type { CheckOutcome } from './outcome';

export function checkHistoryLinearizable(history: readonly TimedEvent[], options: { readonly maxSteps?: number } = {}): CheckOutcome {
  const result = checkLinearizability(history, kvModel(), { maxSteps: options.maxSteps ?? 20_000_000 });
  const counted = `${result.operations} operations over ${result.partitions} keys, ${result.steps} search steps`;
  if (result.valid === true) return { name: 'linearizable', status: 'pass', summary: counted, details: [] };
  if (result.valid === 'unknown') {
    return { name: 'linearizable', status: 'unknown', summary: `search gave up on key ${canonical(result.partition)}: ${result.reason}`, details: [counted] };
  }
  // Find the minimal failing sub-history's operations in the timed history: an invocation with
  // its completion (the next event of its process) names one operation by process, operation,
  // key, input, outcome and the value read (write values are unique).
  const operations = pairOperations(history);
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
    excerpt.push(match === undefined ? `(not found) ${JSON.stringify(event)} → ${JSON.stringify(completion)}` : describeOperation(match));
  });
  return {
    name: 'linearizable',
    status: 'fail',
    summary: `NOT linearizable on key ${canonical(result.partition)} (${counted})`,
    details: [result.explanation, 'minimal failing sub-history:', ...excerpt.map((line) => `  ${line}`)],
  };
}
