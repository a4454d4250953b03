// The kv workers: supervised processes that serve the key-value API. Each node's supervisor
// runs a few; each worker registers itself in the registry under the group name `kv-worker`
// with the capability `kv`, so any node's HTTP handler can find it (on this node or another)
// and call it with runtime.call. A worker reads its limit from the config on every request, so
// a cluster-wide config change reaches it without a restart; every write it makes emits a
// `kv.written` event to the whole cluster.
import type { FoundationNode } from 'foundation';
import { isObject } from '../protocol';

type Behavior = Parameters<FoundationNode['defineBehavior']>[1];
type Self = Parameters<NonNullable<Behavior['handleMessage']>>[1];
type Registration = ReturnType<FoundationNode['registry']['register']>;

export const WORKER_SERVICE = 'kv-worker';
export const KV_CAPABILITY = 'kv';
export const WRITTEN_EVENT = 'kv.written';

const KEY = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const HEARTBEAT = 'heartbeat';
const HEARTBEAT_MS = 1000;
/** A write that has not committed by then is answered 503 (it may still commit later). */
const WRITE_TIMEOUT_MS = 5000;

export type KvOperation = 'get' | 'put' | 'delete';

export interface KvRequest {
  readonly op: KvOperation;
  readonly key: string;
  readonly value?: unknown;
  /** The node whose HTTP server took the request. */
  readonly via: string;
}

export interface ServedBy {
  readonly node: string;
  readonly worker: string;
}

export type KvReply =
  | { readonly ok: true; readonly op: KvOperation; readonly key: string; readonly found: boolean; readonly value?: unknown; readonly servedBy: ServedBy }
  | { readonly ok: false; readonly status: number; readonly error: string; readonly servedBy: ServedBy };

export interface WrittenEvent {
  readonly key: string;
  readonly op: 'put' | 'delete';
  readonly bytes: number;
  readonly node: string;
  readonly worker: string;
  readonly via: string;
}

export function isValidKey(key: unknown): key is string {
  return typeof key === 'string' && KEY.test(key);
}

/** Bytes of a value's JSON text (what the limit counts). */
export function valueBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

function parseRequest(request: unknown): KvRequest | string {
  if (!isObject(request)) return 'a request is an object';
  const { op, key, via } = request;
  if (op !== 'get' && op !== 'put' && op !== 'delete') return 'op must be get, put or delete';
  if (!isValidKey(key)) return 'a key is 1–128 characters of letters, digits, ".", "_", ":" and "-", starting with a letter or digit';
  if (typeof via !== 'string') return 'via must name a node';
  if (op === 'put' && (request.value === undefined || request.value === null)) return 'a put needs a value other than null (the store answers null for an absent key)';
  return { op, key, via, value: request.value };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not complete within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

interface WorkerState {
  readonly registration: Registration;
  readonly slot: number;
  lastLoad: number;
}

export interface KvWorkers {
  /** The supervisor's children: one spec per worker slot. */
  readonly behavior: Behavior;
  /** How many times workers of this node were started again by their supervisor. */
  restarts(): number;
}

export function createKvWorkers(node: FoundationNode): KvWorkers {
  const starts = new Map<number, number>();
  const maxValueBytes = (): number => node.config.getWithDefault('kv.maxValueBytes', 1024) as number;

  async function serve(request: KvRequest, servedBy: ServedBy): Promise<KvReply> {
    try {
      if (request.op === 'get') {
        const value = await withTimeout(node.kv.get(request.key), WRITE_TIMEOUT_MS, 'the read');
        // The store answers null for a key it does not hold (so null itself is never stored).
        return value === undefined || value === null ? { ok: true, op: 'get', key: request.key, found: false, servedBy } : { ok: true, op: 'get', key: request.key, found: true, value, servedBy };
      }
      if (request.op === 'put') {
        const bytes = valueBytes(request.value);
        const limit = maxValueBytes();
        if (bytes > limit) return { ok: false, status: 413, error: `the value is ${bytes} bytes; kv.maxValueBytes is ${limit}`, servedBy };
        const previous = await withTimeout(node.kv.put(request.key, request.value), WRITE_TIMEOUT_MS, 'the write');
        const event: WrittenEvent = { key: request.key, op: 'put', bytes, node: node.id, worker: servedBy.worker, via: request.via };
        node.events.emitDistributed(WRITTEN_EVENT, event);
        return { ok: true, op: 'put', key: request.key, found: previous !== undefined && previous !== null, value: request.value, servedBy };
      }
      const existed = await withTimeout(node.kv.delete(request.key), WRITE_TIMEOUT_MS, 'the delete');
      const event: WrittenEvent = { key: request.key, op: 'delete', bytes: 0, node: node.id, worker: servedBy.worker, via: request.via };
      node.events.emitDistributed(WRITTEN_EVENT, event);
      return { ok: true, op: 'delete', key: request.key, found: existed, servedBy };
    } catch (error) {
      return { ok: false, status: 503, error: error instanceof Error ? error.message : String(error), servedBy };
    }
  }

  const behavior: Behavior = {
    init(args, self) {
      const slot = isObject(args) && typeof args.slot === 'number' ? args.slot : 0;
      starts.set(slot, (starts.get(slot) ?? 0) + 1);
      // A group registration: many workers under one name. The registry monitors the pid, so
      // the registration goes when the process exits (and a restarted worker registers anew).
      const registration = node.registry.register(WORKER_SERVICE, self.pid, {
        mode: 'group',
        capabilities: [KV_CAPABILITY],
        serviceType: 'worker',
        version: '1.0.0',
        metadata: { slot },
        // Passive health: a worker stuck on a request (no quorum, say) misses its heartbeats
        // and shows as degraded, then unhealthy, until it catches up.
        health: { ttlMs: 3 * HEARTBEAT_MS, graceMs: 3 * HEARTBEAT_MS },
      });
      self.sendAfter(HEARTBEAT_MS, self.pid, HEARTBEAT);
      const state: WorkerState = { registration, slot, lastLoad: 0 };
      return state;
    },
    handleMessage(message, self) {
      const state = self.state as WorkerState;
      if (message === HEARTBEAT) {
        state.registration.heartbeat();
        // Load is the queue behind this worker; reported only when it changes (each report is
        // replicated to every node).
        const load = node.runtime.processInfo(self.pid)?.mailbox.length ?? 0;
        if (load !== state.lastLoad) {
          state.lastLoad = load;
          state.registration.reportLoad(load);
        }
        self.sendAfter(HEARTBEAT_MS, self.pid, HEARTBEAT);
        return;
      }
      if (message === 'crash') throw new Error(`kv worker ${self.pid.toString()} crashed on request (the demo's crash button)`);
    },
    async handleCall(request, self: Self) {
      const servedBy: ServedBy = { node: node.id, worker: self.pid.toString() };
      const parsed = parseRequest(request);
      if (typeof parsed === 'string') return { ok: false, status: 400, error: parsed, servedBy } satisfies KvReply;
      return serve(parsed, servedBy);
    },
    terminate(_reason, self) {
      (self.state as WorkerState | undefined)?.registration.unregister();
    },
  };

  return {
    behavior,
    restarts: () => [...starts.values()].reduce((sum, count) => sum + count - 1, 0),
  };
}
