// No acknowledged write lost. After the faults, every live node reads every key through Raft
// (a linearizable read), in rounds until the cluster is quiet. For each key the last read of
// every node must agree on one value F, and F must have been written by an operation that may
// have taken effect (acknowledged or unknown). An acknowledged write w is then lost when the
// key reads empty, or when F's write had been acknowledged before w was even invoked: w must
// follow it in every linearization, so F could only be the final value if w vanished. Every
// other acknowledged write was either F's, or was legitimately overwritten by a write that may
// come after it.
import { canonical } from '@foundation/testkit';
import type { TimedEvent } from '../workload/workload';
import { describeOperation, pairOperations, writtenValue } from './operations';
import type { TimedOperation } from './operations';
import type { CheckOutcome } from './outcome';

/** Process names of the final reads start with this. */
export const FINAL_READ_PREFIX = 'final-';

export function checkNoLostWrites(history: readonly TimedEvent[], keys: readonly string[], liveNodes: readonly string[]): CheckOutcome {
  const name = 'no acknowledged write lost';
  // With no node to read from, every key would have "no final read missing" and pass.
  if (liveNodes.length === 0) return { name, status: 'fail', summary: 'no live node to read the keys from', details: [] };
  const operations = pairOperations(history);
  const finalReads = operations.filter((operation) => typeof operation.process === 'string' && operation.process.startsWith(FINAL_READ_PREFIX));
  const workload = operations.filter((operation) => !finalReads.includes(operation));
  const problems: string[] = [];
  const finals: string[] = [];
  let acknowledged = 0;
  for (const key of keys) {
    // Each node's last successful final read (the reads repeat until the cluster is quiet).
    const last = new Map<string, TimedOperation>();
    for (const operation of finalReads) if (operation.key === key && operation.status === 'ok') last.set(operation.node, operation);
    const reads = [...last.values()];
    const readers = new Set(reads.map((operation) => operation.node));
    const missing = liveNodes.filter((node) => !readers.has(node));
    if (missing.length > 0) problems.push(`key ${key}: no final read succeeded on ${missing.join(', ')}`);
    const values = new Set(reads.map((operation) => canonical(operation.output)));
    if (values.size > 1) {
      problems.push(`key ${key}: final reads disagree: ${reads.map((operation) => `${operation.node}=${canonical(operation.output)}`).join(' ')}`);
      continue;
    }
    if (reads.length === 0) continue;
    const final = reads[0]!.output ?? null;
    finals.push(`${key}=${canonical(final)}`);
    const writes = workload.filter((operation) => operation.key === key && writtenValue(operation) !== undefined);
    const acked = writes.filter((operation) => operation.status === 'ok');
    acknowledged += acked.length;
    let writer: TimedOperation | undefined;
    if (final !== null) {
      writer = writes.find((operation) => operation.status !== 'fail' && canonical(writtenValue(operation)) === canonical(final));
      if (writer === undefined) {
        const failed = writes.find((operation) => canonical(writtenValue(operation)) === canonical(final));
        problems.push(`key ${key}: final value ${canonical(final)} comes from no write that may have happened${failed === undefined ? '' : `; it was written by an operation reported as not applied: ${describeOperation(failed)}`}`);
        continue;
      }
    }
    for (const write of acked) {
      if (write === writer) continue;
      const lost = writer === undefined || (writer.status === 'ok' && writer.ret < write.call);
      if (lost) {
        problems.push(
          `key ${key}: acknowledged write lost: ${describeOperation(write)}; final value ${canonical(final)}${writer === undefined ? '' : ` from ${describeOperation(writer)}, acknowledged before it began`}`,
        );
      }
    }
  }
  if (problems.length > 0) return { name, status: 'fail', summary: problems[0]!, details: problems.slice(0, 20) };
  // Nothing acknowledged, nothing to lose: a cluster that took no write in the whole run is not a pass.
  if (acknowledged === 0) return { name, status: 'unknown', summary: `no write was acknowledged, so none could be lost; every live node reads ${finals.join(' ')}`, details: [] };
  return { name, status: 'pass', summary: `${acknowledged} acknowledged writes; every live node reads ${finals.join(' ')}`, details: [] };
}
