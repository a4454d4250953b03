// A bounded, per-node record of context hops: every time a context arrives at this node
// (`extract`) or leaves it (`inject`), one HopRecord. Queried by correlation id, the records of
// all nodes reconstruct a request's path across the cluster (see `reconstructPath`).
import { isObjectArgument } from './arguments';
import { ContextOptionsError } from './errors/context-options-error';
import { describeValue } from './errors/describe-value';

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

/**
 * How the propagator records without building a HopRecord per hop: recorders made by
 * createFlightRecorder register their column writer here; other FlightRecorder implementations
 * get `record`.
 */
const columnWriters = new WeakMap<FlightRecorder, RecordHop>();

/** The column writer of a recorder made by createFlightRecorder, if `recorder` is one. */
export function columnWriterOf(recorder: FlightRecorder): RecordHop | undefined {
  return columnWriters.get(recorder);
}

export type RecordHop = (
  correlationId: string,
  requestId: string | undefined,
  node: string,
  process: string,
  direction: HopDirection,
  hops: number,
  originNode: string | undefined,
  peer: string | undefined,
  traceId: string | undefined,
  spanId: string | undefined,
  time: number,
) => void;

/**
 * A ring buffer of hop records kept column by column (no object per hop, so recording is a
 * handful of array writes and leaves little for the garbage collector). Recording happens on
 * every message; queries are rare (debugging, path reconstruction), so a query scans the ring:
 * O(capacity), about 0.1 ms for 10,000 records, and no index to maintain per hop.
 */
export function createFlightRecorder(options: FlightRecorderOptions = {}): FlightRecorder {
  if (!isObjectArgument(options)) throw new ContextOptionsError('options', `must be an object (got ${describeValue(options)})`);
  const capacity = options.capacity ?? DEFAULT_FLIGHT_RECORDER_CAPACITY;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    throw new ContextOptionsError('capacity', `must be an integer in 1..${MAX_CAPACITY} (got ${describeValue(capacity)})`);
  }
  let correlationIds: string[] = [];
  let requestIds: (string | undefined)[] = [];
  let nodes: string[] = [];
  let processes: string[] = [];
  let outgoing: boolean[] = [];
  let hopCounts: number[] = [];
  let originNodes: (string | undefined)[] = [];
  let peers: (string | undefined)[] = [];
  let traceIds: (string | undefined)[] = [];
  let spanIds: (string | undefined)[] = [];
  let times: number[] = [];
  let next = 0; // slot of the next write once the ring is full
  let size = 0;
  let recorded = 0;

  const recordHop: RecordHop = (correlationId, requestId, node, process, direction, hops, originNode, peer, traceId, spanId, time) => {
    recorded += 1;
    let slot: number;
    if (size < capacity) {
      slot = size;
      size += 1;
    } else {
      slot = next;
      next = next + 1 === capacity ? 0 : next + 1;
    }
    correlationIds[slot] = correlationId;
    requestIds[slot] = requestId;
    nodes[slot] = node;
    processes[slot] = process;
    outgoing[slot] = direction === 'out';
    hopCounts[slot] = hops;
    originNodes[slot] = originNode;
    peers[slot] = peer;
    traceIds[slot] = traceId;
    spanIds[slot] = spanId;
    times[slot] = time;
  };

  const at = (slot: number): HopRecord => {
    const record: { -readonly [K in keyof HopRecord]: HopRecord[K] } = {
      correlationId: correlationIds[slot]!,
      node: nodes[slot]!,
      process: processes[slot]!,
      direction: outgoing[slot] ? 'out' : 'in',
      hops: hopCounts[slot]!,
      time: times[slot]!,
    };
    if (requestIds[slot] !== undefined) record.requestId = requestIds[slot];
    if (originNodes[slot] !== undefined) record.originNode = originNodes[slot];
    if (peers[slot] !== undefined) record.peer = peers[slot];
    if (traceIds[slot] !== undefined) record.traceId = traceIds[slot];
    if (spanIds[slot] !== undefined) record.spanId = spanIds[slot];
    return record;
  };

  /** Slots from oldest to newest. */
  const oldest = (): number => (size < capacity ? 0 : next);

  const recorder: FlightRecorder = {
    capacity,
    record(record) {
      recordHop(
        record.correlationId,
        record.requestId,
        record.node,
        record.process,
        record.direction,
        record.hops,
        record.originNode,
        record.peer,
        record.traceId,
        record.spanId,
        record.time,
      );
    },
    query(correlationId) {
      const found: HopRecord[] = [];
      const start = oldest();
      for (let offset = 0; offset < size; offset += 1) {
        const slot = (start + offset) % capacity;
        if (correlationIds[slot] === correlationId) found.push(at(slot));
      }
      return found;
    },
    recent(limit = 100) {
      const count = Math.max(0, Math.min(Math.floor(limit), size));
      const start = oldest();
      const result: HopRecord[] = [];
      for (let offset = size - count; offset < size; offset += 1) result.push(at((start + offset) % capacity));
      return result;
    },
    stats: () => ({ size, capacity, recorded, evicted: recorded - size, correlations: new Set(correlationIds.slice(0, size)).size }),
    clear() {
      correlationIds = [];
      requestIds = [];
      nodes = [];
      processes = [];
      outgoing = [];
      hopCounts = [];
      originNodes = [];
      peers = [];
      traceIds = [];
      spanIds = [];
      times = [];
      next = 0;
      size = 0;
      recorded = 0;
    },
  };
  columnWriters.set(recorder, recordHop);
  return recorder;
}
