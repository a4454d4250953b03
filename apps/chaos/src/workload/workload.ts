// Clients writing to the replicated key-value store while faults happen, recording a history
// in Jepsen's form (invoke, then ok / fail / info) with real timestamps.
//
// Each client runs one operation at a time against a node it picks (any node whose process
// runs, paused ones included: a client cannot tell a paused node from a slow one). Values are
// unique integers, so every value read names the one write that wrote it. An operation whose
// outcome is unknown (timed out, node killed while it waited, an error that does not say it
// was not applied) completes as `info`, and its client continues under a new process number,
// as Jepsen does: the old operation may still take effect at any time.
import type { HistoryEvent } from '@foundation/testkit';
import { NotSentError, RemoteError } from '../cluster/node-process';
import type { ChaosNode } from '../cluster/node-process';
import { startClientLoops } from './client-loop';
import type { ClientLoopOptions } from './client-loop';

export type Operation = 'get' | 'put' | 'cas';

/** A history event with when it happened (ms since the workload began) and where. */
export type TimedEvent = HistoryEvent & {
  readonly time: number;
  readonly node: string;
  /** For failures and unknown outcomes: why. */
  readonly error?: string;
  readonly code?: number;
  /** For puts: the previous value the node returned. */
  readonly previous?: unknown;
  /** Where the answering node's Raft stood when it answered (term, leader, commit, applied). */
  readonly raft?: RaftPosition;
};

export interface RaftPosition {
  readonly term: number;
  readonly leader: string | null;
  readonly role: string;
  readonly commit: number;
  readonly applied: number;
}

interface KvAnswer {
  readonly result: unknown;
  readonly raft: RaftPosition;
}

/**
 * Error codes after which a write certainly did not apply: raft notLeader 6010 (this node does
 * not lead and did not forward it), raft dropped 6011 (the leader refused it, or another entry
 * took its log position) and channels noResponder 5810 (the peer has no handler for it). Any
 * other error leaves the outcome unknown. Not channels peerUnavailable 5804: the foundation
 * package retries it, and the retry's own failure can surface with it after an earlier attempt
 * was applied. (A request already sent when its connection drops fails with requestInterrupted
 * 5812, whose outcome is unknown by definition; see the README's findings.)
 */
export const NOT_APPLIED_CODES: ReadonlySet<number> = new Set([6010, 6011, 5810]);

/**
 * Foundation retries those codes too, until its consensus timeout (5 s by default): one that
 * surfaces after that long describes the last attempt only, and an earlier one may have been
 * applied (committed, then the answer lost with a connection). Only a refusal that came sooner
 * is trusted.
 */
export const FOUNDATION_RETRY_WINDOW_MS = 5_000;

/**
 * Whether a write's error says for certain that the write was not applied: it was never sent, or
 * (when `trustCodes`) it was refused with one of NOT_APPLIED_CODES within Foundation's retry
 * window. `elapsedMs`: from the request to the error.
 */
export function certainlyNotApplied(error: unknown, elapsedMs: number, trustCodes = true): boolean {
  if (error instanceof NotSentError) return true;
  const code = error instanceof RemoteError ? error.code : undefined;
  return trustCodes && elapsedMs < FOUNDATION_RETRY_WINDOW_MS && code !== undefined && NOT_APPLIED_CODES.has(code);
}

export interface WorkloadOptions extends Omit<ClientLoopOptions, 'name'> {
  readonly keys: readonly string[];
  readonly opTimeoutMs: number;
  /** ms since the workload began. */
  readonly now: () => number;
  /** Treat every error of a write as an unknown outcome (ignores NOT_APPLIED_CODES). */
  readonly errorsAsInfo?: boolean;
}

export interface Workload {
  /** The history so far (events in the order they happened). */
  readonly history: TimedEvent[];
  /** Stops issuing operations; resolves when every client's last operation has completed or timed out. */
  stop(): Promise<void>;
  /** Runs one operation as `process` on `node` and records it (for the final reads). */
  perform(process: string | number, node: ChaosNode, operation: Operation, key: string, value?: unknown): Promise<TimedEvent>;
}

export function startWorkload(options: WorkloadOptions): Workload {
  const history: TimedEvent[] = [];
  let nextValue = 1;

  const perform = async (process: string | number, node: ChaosNode, operation: Operation, key: string, value?: unknown): Promise<TimedEvent> => {
    const invoke: TimedEvent = { type: 'invoke', process, f: operation, key, ...(value === undefined ? {} : { value }), time: options.now(), node: node.name };
    history.push(invoke);
    const base = { process, f: operation, key, node: node.name };
    let completion: TimedEvent;
    try {
      const args = operation === 'get' ? [key] : operation === 'put' ? [key, value] : [key, (value as [unknown, unknown])[0], (value as [unknown, unknown])[1]];
      const { result, raft } = await node.call<KvAnswer>(operation, args, options.opTimeoutMs);
      if (operation === 'get') completion = { type: 'ok', ...base, value: result ?? null, time: options.now(), raft };
      else if (operation === 'put') completion = { type: 'ok', ...base, previous: result ?? null, time: options.now(), raft };
      else completion = { type: result === true ? 'ok' : 'fail', ...base, time: options.now(), raft, ...(result === true ? {} : { error: 'compare failed' }) };
    } catch (error) {
      const code = error instanceof RemoteError ? error.code : undefined;
      const certain = operation === 'get' || certainlyNotApplied(error, options.now() - invoke.time, options.errorsAsInfo !== true);
      completion = { type: certain ? 'fail' : 'info', ...base, time: options.now(), error: (error as Error).message, ...(code === undefined ? {} : { code }) };
    }
    history.push(completion);
    return completion;
  };

  const clients = startClientLoops({ ...options, name: 'client' }, (client, random) => {
    const known = new Map<string, unknown>();
    let process = client;
    return async (node) => {
      const key = random.pick(options.keys);
      const draw = random.float();
      const operation: Operation = draw < 0.4 ? 'get' : draw < 0.7 ? 'put' : 'cas';
      let value: unknown;
      if (operation === 'put') value = nextValue++;
      if (operation === 'cas') value = [known.get(key) ?? null, nextValue++];
      const completion = await perform(process, node, operation, key, value);
      if (completion.type === 'ok') {
        if (operation === 'get') known.set(key, completion.value);
        else if (operation === 'put') known.set(key, value);
        else known.set(key, (value as [unknown, unknown])[1]);
      }
      if (completion.type === 'info') process += options.clients;
      return 'done';
    };
  });
  return {
    history,
    stop: () => clients.stop(),
    perform,
  };
}
