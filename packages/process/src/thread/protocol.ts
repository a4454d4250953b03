// Messages between the main thread and a worker that hosts thread-isolated processes. Bodies
// cross with their pids tagged (wire-body.ts) and exit reasons as wire data (signals.ts), so both
// sides rebuild Pids and errors. The main thread validates what a worker sends: user code runs
// in the worker and could post anything on its port.
import { isPlainRecord } from '../core/plain-record';
import { MAX_PID_TEXT_LENGTH } from '../core/pid';

/** Main → worker. `id` is the process's local id (its pid's `id`). */
export type ToWorker =
  | {
      readonly k: 'spawn';
      readonly id: number;
      readonly pid: string;
      readonly module: string;
      readonly export: string;
      readonly args: unknown;
      readonly trapExits: boolean;
      readonly name: string | undefined;
    }
  | { readonly k: 'message'; readonly id: number; readonly body: unknown; readonly cast: boolean }
  | { readonly k: 'system'; readonly id: number; readonly body: SystemBody }
  | { readonly k: 'call'; readonly id: number; readonly ref: number; readonly body: unknown; readonly caller: string | undefined }
  /**
   * End the process with `reason`, running its terminate; also the answer to an `exiting`, with
   * the reason the process exits with. `own` is set when that is the reason the worker gave in
   * `exiting` (`reason` is then left out), so that terminate gets the worker's own value, not a
   * copy that crossed twice.
   */
  | { readonly k: 'exit'; readonly id: number; readonly reason: unknown; readonly own: boolean }
  | { readonly k: 'kill'; readonly id: number }
  | { readonly k: 'reply'; readonly ref: number; readonly ok: boolean; readonly body: unknown }
  | { readonly k: 'name'; readonly id: number; readonly name: string | undefined };

/** An exit or down message for a process in the worker. */
export type SystemBody =
  | { readonly type: 'exit'; readonly from: string; readonly reason: unknown }
  | { readonly type: 'down'; readonly ref: string; readonly pid: string; readonly reason: unknown };

/** A destination as it crosses the thread boundary. */
export type WireDestination = string | { readonly name: string } | { readonly name: string; readonly node: string } | { readonly pid: string };

/** Worker → main. */
export type FromWorker =
  | { readonly k: 'ready' }
  | { readonly k: 'started'; readonly id: number }
  /**
   * The worker read a `kill` for process `id` (and ended it, if it hosted it still): until this
   * comes back, the main thread takes the worker for stuck, as a process in a synchronous loop
   * leaves it, and places no new process on it (thread-pool.ts).
   */
  | { readonly k: 'killed'; readonly id: number }
  /**
   * The process began to exit in the worker for a reason of its own (it stopped itself, or a
   * callback threw or rejected). It handles nothing more, and its terminate waits for the main
   * thread's `exit`, which brings the reason the process exits with: this one, unless an exit
   * decided there first (one that crossed this message, or one held for the callback);
   * `exited` follows once terminate is done.
   */
  | { readonly k: 'exiting'; readonly id: number; readonly reason: unknown }
  | { readonly k: 'exited'; readonly id: number; readonly reason: unknown }
  | { readonly k: 'ack'; readonly id: number; readonly count: number }
  | { readonly k: 'send'; readonly id: number; readonly to: WireDestination; readonly body: unknown; readonly cast: boolean }
  /** A due `sendAfter` whose message structured clone could not copy: the message stays in the worker. */
  | { readonly k: 'dead-letter'; readonly id: number; readonly to: WireDestination; readonly reason: 'uncloneable' }
  | { readonly k: 'call'; readonly id: number; readonly to: WireDestination; readonly ref: number; readonly body: unknown; readonly timeout: number }
  | { readonly k: 'reply'; readonly ref: number; readonly ok: boolean; readonly body: unknown }
  | { readonly k: 'link' | 'unlink'; readonly id: number; readonly pid: string }
  | { readonly k: 'monitor'; readonly id: number; readonly pid: string; readonly ref: string }
  | { readonly k: 'demonitor'; readonly id: number; readonly ref: string }
  | { readonly k: 'exit-signal'; readonly id: number; readonly pid: string; readonly reason: unknown }
  | { readonly k: 'trap'; readonly id: number; readonly enabled: boolean }
  | { readonly k: 'register'; readonly id: number; readonly name: string }
  | { readonly k: 'unregister'; readonly id: number }
  /**
   * `hold` comes before the first link, unlink or exit signal a synchronous callback asks for,
   * `release` once that callback has returned: exits reaching the process in between wait for
   * `release`, as exits to a main-thread process wait for its callback to return, so that an
   * unlink the callback asks for still takes back an exit from that link. The host always ends
   * a hold (`release`, or the process's `exiting` or `exited`); one that code in the worker posts
   * raw on its port is not ended, and the README's limits say so.
   */
  | { readonly k: 'hold' | 'release'; readonly id: number };

const FROM_WORKER_KINDS = new Set([
  'ready',
  'started',
  'killed',
  'exiting',
  'exited',
  'ack',
  'send',
  'dead-letter',
  'call',
  'reply',
  'link',
  'unlink',
  'monitor',
  'demonitor',
  'exit-signal',
  'trap',
  'register',
  'unregister',
  'hold',
  'release',
]);

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

function isPidText(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_PID_TEXT_LENGTH;
}

/** Checks the shape of a worker message (not the pids inside, which are parsed where used). */
export function readFromWorker(data: unknown): FromWorker | undefined {
  if (!isPlainRecord(data) || typeof data.k !== 'string' || !FROM_WORKER_KINDS.has(data.k)) return undefined;
  const message = data as Record<string, unknown> & { k: string };
  if (message.k === 'ready') return message as FromWorker;
  if (message.k === 'reply') return isId(message.ref) && typeof message.ok === 'boolean' ? (message as FromWorker) : undefined;
  if (!isId(message.id)) return undefined;
  switch (message.k) {
    case 'ack':
      return isId(message.count) ? (message as FromWorker) : undefined;
    case 'send':
      return typeof message.cast === 'boolean' ? (message as FromWorker) : undefined;
    case 'dead-letter':
      return message.reason === 'uncloneable' ? (message as FromWorker) : undefined;
    case 'call':
      return isId(message.ref) && typeof message.timeout === 'number' ? (message as FromWorker) : undefined;
    case 'link':
    case 'unlink':
      return isPidText(message.pid) ? (message as FromWorker) : undefined;
    case 'monitor':
      return isPidText(message.pid) && typeof message.ref === 'string' ? (message as FromWorker) : undefined;
    case 'demonitor':
      return typeof message.ref === 'string' ? (message as FromWorker) : undefined;
    case 'exit-signal':
      return isPidText(message.pid) ? (message as FromWorker) : undefined;
    case 'trap':
      return typeof message.enabled === 'boolean' ? (message as FromWorker) : undefined;
    case 'register':
      return typeof message.name === 'string' ? (message as FromWorker) : undefined;
    default:
      return message as FromWorker;
  }
}
