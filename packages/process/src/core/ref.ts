// Monitor references, unique across the cluster. A runtime makes `#Ref<node.n>`; worker thread
// `k` of that runtime makes `#Ref<node.tk:n>`. Node ids may contain dots and colons, so what a
// worker appends to its node's id must give a text no runtime makes: a runtime's reference ends
// in a dot and digits, a worker's in a colon and digits (after `.t` and the thread's digits),
// and in each form the parts after the node id hold no dot or colon, so a reference reads back
// into exactly one (node, thread, counter).
//
// Workers once made `#Ref<node.tk.n>`, the very text the runtime of a node named `node.tk`
// makes. No release made that form, so it is refused like any reference of another node: a
// node that sent it could take over references node `node.tk` was yet to use.
import { NODE_ID_PATTERN } from './pid';

/** The longest reference: `#Ref<`, a 255-character node, `.t`, 16 digits, `:`, 16 digits, `>`. */
export const MAX_REF_LENGTH = 300;
const NODE = NODE_ID_PATTERN.source.slice(1, -1);
const COUNTER = '[1-9][0-9]{0,15}';
const RUNTIME_REF = new RegExp(`^#Ref<(${NODE})\\.(${COUNTER})>$`);
const WORKER_REF = new RegExp(`^#Ref<(${NODE})\\.t(${COUNTER}):(${COUNTER})>$`);

/** What a reference says about where it was made. */
export interface RefParts {
  readonly node: string;
  /** The worker thread's index, or undefined for the runtime (main thread) itself. */
  readonly thread: number | undefined;
  readonly counter: number;
}

/** The reference a runtime on `node` makes for its `counter`th monitor. */
export function runtimeRef(node: string, counter: number): string {
  return `#Ref<${node}.${counter}>`;
}

/** The reference worker thread `thread` of the runtime on `node` makes for its `counter`th monitor. */
export function workerRef(node: string, thread: number, counter: number): string {
  return `#Ref<${node}.t${thread}:${counter}>`;
}

/**
 * Reads a reference back into its parts; undefined for anything that is not one (input from
 * the wire is hostile: the length is checked before any pattern runs, and each pattern is
 * anchored with a single part of variable length, so matching stays linear in that bound).
 */
export function parseRef(value: unknown): RefParts | undefined {
  if (typeof value !== 'string' || value.length > MAX_REF_LENGTH) return undefined;
  let parts: RefParts;
  const worker = WORKER_REF.exec(value);
  if (worker !== null) {
    parts = { node: worker[1]!, thread: Number(worker[2]), counter: Number(worker[3]) };
  } else {
    const runtime = RUNTIME_REF.exec(value);
    if (runtime === null) return undefined;
    parts = { node: runtime[1]!, thread: undefined, counter: Number(runtime[2]) };
  }
  if (!Number.isSafeInteger(parts.counter) || (parts.thread !== undefined && !Number.isSafeInteger(parts.thread))) return undefined;
  return parts;
}

/** True for a monitor reference of either form. */
export function isValidRef(value: unknown): value is string {
  return parseRef(value) !== undefined;
}

/** True when `value` is a reference made on `node`: by its runtime or by one of its workers. */
export function isRefOf(value: unknown, node: string): value is string {
  return parseRef(value)?.node === node;
}

/**
 * Where an incarnation's call references and monitor counters start: a runtime restarted under
 * another creation numbers from elsewhere, so a reply to a call of the old incarnation (held by
 * a server that had not seen it go) never settles a call of the new one, and a monitor of the
 * new one never meets a reference the old one left behind. 2^20 apart: creations are random
 * (`foundation` draws one per start) or counted up, and a single incarnation makes a million
 * before two ranges could meet (past that, a node still drops the reply to a call whose caller's
 * node went down since: RemoteBridge.sendReply); the largest (creation 2^32 - 1) stays a safe
 * integer.
 */
export function incarnationBase(creation: number): number {
  return creation * 2 ** 20;
}
