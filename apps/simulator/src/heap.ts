// Whether a run of this many nodes fits the JavaScript heap, checked before the run: past the
// limit V8 aborts with a fatal error, possibly many minutes in, instead of a message.
import { getHeapStatistics } from 'node:v8';
import { UsageError } from './usage-error';

/** Heap the runs needed regardless of size (measured: about 20 MiB), with room to spare. */
const BASE_BYTES = 32 * 1024 * 1024;
/**
 * Heap per node. Measured with --max-old-space-size on 1,000, 3,000 and 10,000 nodes (the
 * smallest heap a run completed in: about 55, 120 and 380 MiB, so 33–35 KiB a node); 40 KiB
 * leaves room for the larger views of bigger clusters and for the collector.
 */
const BYTES_PER_NODE = 40 * 1024;

export function estimatedHeapBytes(nodes: number): number {
  return BASE_BYTES + nodes * BYTES_PER_NODE;
}

/** Throws a UsageError naming --nodes when `nodes` would not fit in `limitBytes` (this process's heap limit by default). */
export function checkHeapFits(nodes: number, limitBytes: number = getHeapStatistics().heap_size_limit): void {
  const needed = estimatedHeapBytes(nodes);
  if (needed <= limitBytes) return;
  const mib = (bytes: number): number => Math.ceil(bytes / 1024 / 1024);
  throw new UsageError(
    `--nodes ${nodes} needs about ${mib(needed)} MiB of JavaScript heap and this Node.js allows ${mib(limitBytes)} MiB; ` +
      `use fewer nodes or raise the limit, e.g. NODE_OPTIONS=--max-old-space-size=${Math.ceil(mib(needed) * 1.25)}`,
  );
}
