// A bounded, per-node record of context hops: every time a context arrives at this node
// (`extract`) or leaves it (`inject`), one HopRecord. Queried by correlation id, the records of
// all nodes reconstruct a request's path across the cluster (see `reconstructPath`).
import { ContextOptionsError } from './errors/context-options-error';

export type HopDirection = 'in' | 'out';

/** One crossing of a node boundary, as seen by one node. Plain data: safe to send as JSON or CBOR. */
export interface HopRecord {
  readonly correlationId: string;
  readonly requestId?: string | undefined;
  /** The node that recorded the hop. */
  readonly node: string;
  /** The process (pid or worker name) on that node. */
  readonly process: string;
  /** `in`: the context arrived here; `out`: it left for another node. */
  readonly direction: HopDirection;
  /** The hop count of the context on this node (an `out` with n is followed by an `in` with n + 1). */
  readonly hops: number;
  readonly originNode?: string | undefined;
  /** The other end, when the transport told the propagator. */
  readonly peer?: string | undefined;
  readonly traceId?: string | undefined;
  readonly spanId?: string | undefined;
  /** Wall-clock time on the recording node, ms since the epoch. Clocks of different nodes disagree. */
  readonly time: number;
}

export interface FlightRecorderOptions {
  /** How many records to keep; the oldest is evicted first. Default 10,000. */
  readonly capacity?: number;
}

export interface FlightRecorderStats {
  readonly size: number;
  readonly capacity: number;
  readonly recorded: number;
  readonly evicted: number;
  readonly correlations: number;
}

export interface FlightRecorder {
  readonly capacity: number;
  /** Adds a record, evicting the oldest when full. */
  record(record: HopRecord): void;
  /** Every record kept for `correlationId`, oldest first (a copy). */
  query(correlationId: string): HopRecord[];
  /** The newest `limit` records, oldest first. */
  recent(limit?: number): HopRecord[];
  stats(): FlightRecorderStats;
  clear(): void;
}

export const DEFAULT_FLIGHT_RECORDER_CAPACITY = 10_000;
const MAX_CAPACITY = 10_000_000;

/** Records of one correlation id, oldest first; `head` skips evicted ones until compaction. */
interface CorrelationRecords {
  records: HopRecord[];
  head: number;
}

/** A ring buffer of hop records with an index by correlation id; memory is O(capacity). */
export function createFlightRecorder(options: FlightRecorderOptions = {}): FlightRecorder {
  const capacity = options.capacity ?? DEFAULT_FLIGHT_RECORDER_CAPACITY;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    throw new ContextOptionsError('capacity', `must be an integer in 1..${MAX_CAPACITY} (got ${String(capacity)})`);
  }
  let ring: (HopRecord | undefined)[] = [];
  let next = 0; // slot of the next write once the ring is full
  let size = 0;
  let recorded = 0;
  let evicted = 0;
  const index = new Map<string, CorrelationRecords>();

  const evict = (record: HopRecord): void => {
    evicted += 1;
    const entry = index.get(record.correlationId);
    if (entry === undefined) return;
    // Records leave in insertion order, so the evicted one is the oldest of its correlation.
    entry.head += 1;
    if (entry.head >= entry.records.length) {
      index.delete(record.correlationId);
    } else if (entry.head > 32 && entry.head * 2 > entry.records.length) {
      entry.records = entry.records.slice(entry.head);
      entry.head = 0;
    }
  };

  return {
    capacity,
    record(record) {
      recorded += 1;
      if (size < capacity) {
        ring.push(record);
        size += 1;
      } else {
        evict(ring[next]!);
        ring[next] = record;
        next = (next + 1) % capacity;
      }
      const entry = index.get(record.correlationId);
      if (entry === undefined) index.set(record.correlationId, { records: [record], head: 0 });
      else entry.records.push(record);
    },
    query(correlationId) {
      const entry = index.get(correlationId);
      return entry === undefined ? [] : entry.records.slice(entry.head);
    },
    recent(limit = 100) {
      const count = Math.max(0, Math.min(Math.floor(limit), size));
      const result: HopRecord[] = [];
      // The oldest record is at `next` once the ring is full, at 0 before.
      const start = size < capacity ? size - count : (next - count + capacity) % capacity;
      for (let offset = 0; offset < count; offset += 1) result.push(ring[(start + offset) % capacity]!);
      return result;
    },
    stats: () => ({ size, capacity, recorded, evicted, correlations: index.size }),
    clear() {
      ring = [];
      next = 0;
      size = 0;
      index.clear();
    },
  };
}
