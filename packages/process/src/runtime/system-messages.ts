// The messages the runtime itself puts in a mailbox: `exit` (a trapped exit signal) and `down`
// (a monitor fired). Each is recognised two ways, for two kinds of reader:
//
// - By shape, for behaviors: `isExitMessage` and `isDownMessage` look for a marker under a
//   `Symbol.for` key, so that a behavior that imports another copy of this package (its ESM and
//   CJS builds both loaded, or two installs) still recognises the messages of the runtime that
//   runs it. A marker any code can read, any code can also write: these guards tell what a
//   message is, not who made it, as on the BEAM, where any process may send `{'EXIT', Pid, Reason}`.
// - By origin and address, for the runtime's own decisions: when the runtime puts a message it
//   made in a mailbox, it records whose, in a WeakMap nothing outside this module can reach, and
//   `isExitFor` / `isDownFor` accept a message only in that mailbox. Whatever acts on an exit or a
//   down (a `runtime.monitor` callback, a supervisor's restart, the forwarding of system messages
//   to a worker thread, the mailbox bound's exemption for system messages) asks these, so to them
//   a lookalike made by other code is an ordinary message, and so is a genuine one passed on from
//   another mailbox (a process that traps exits can make genuine exits about itself at will,
//   with `exit(self.pid, reason)`). Messages that cross a thread or a node are never the object
//   itself: the runtime on the other side makes and delivers a new one, genuine there.
import type { Pid } from '../core/pid';
import type { ExitReason, MonitorRef } from './types';

const EXIT_MARKER: unique symbol = Symbol.for('@foundation/process/ExitMessage') as never;
const DOWN_MARKER: unique symbol = Symbol.for('@foundation/process/DownMessage') as never;

/**
 * The process each delivered exit and down message went to. Only this module writes it, and
 * reading it runs no code of the value's (a proxy's traps included).
 */
const recipients = new WeakMap<object, object>();

/** A trapped exit signal: `from` exited (or called `exit(pid, reason)`) with `reason`. */
export interface ExitMessage {
  readonly type: 'exit';
  readonly from: Pid;
  readonly reason: ExitReason;
}

/** A monitor fired: the process `pid` exited with `reason` (`noproc` if it never existed, `noconnection` if its node went away). */
export interface DownMessage {
  readonly type: 'down';
  readonly ref: MonitorRef;
  readonly pid: Pid;
  readonly reason: ExitReason;
}

export function exitMessage(from: Pid, reason: ExitReason): ExitMessage {
  const message = { type: 'exit' as const, from, reason };
  Object.defineProperty(message, EXIT_MARKER, { value: true, enumerable: false });
  return Object.freeze(message);
}

export function downMessage(ref: MonitorRef, pid: Pid, reason: ExitReason): DownMessage {
  const message = { type: 'down' as const, ref, pid, reason };
  Object.defineProperty(message, DOWN_MARKER, { value: true, enumerable: false });
  return Object.freeze(message);
}

/**
 * Reads a marker without trusting the value: a message may be anything a sender made, a getter
 * or a proxy whose traps throw included, and a guard that throws ends whatever handler asked.
 */
function hasMarker(value: unknown, marker: symbol): boolean {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return (value as Record<symbol, unknown>)[marker] === true;
  } catch {
    return false;
  }
}

/**
 * True for an `exit` message, including one made by another copy of this package; false, never
 * a throw, for anything else. It tells the shape, not the sender: see the top of this file.
 */
export function isExitMessage(value: unknown): value is ExitMessage {
  return hasMarker(value, EXIT_MARKER);
}

/**
 * True for a `down` message, including one made by another copy of this package; false, never
 * a throw, for anything else. It tells the shape, not the sender: see the top of this file.
 */
export function isDownMessage(value: unknown): value is DownMessage {
  return hasMarker(value, DOWN_MARKER);
}

/** @internal The runtime puts `message` in `recipient`'s mailbox: there, and only there, it counts as a system message. */
export function addressTo(message: ExitMessage | DownMessage, recipient: object): void {
  recipients.set(message, recipient);
}

/** @internal An exit message the runtime delivered to `recipient`: never a lookalike, nor one passed on from another mailbox. */
export function isExitFor(value: unknown, recipient: object): value is ExitMessage {
  return typeof value === 'object' && value !== null && recipients.get(value) === recipient && (value as ExitMessage).type === 'exit';
}

/** @internal A down message the runtime delivered to `recipient`: never a lookalike, nor one passed on from another mailbox. */
export function isDownFor(value: unknown, recipient: object): value is DownMessage {
  return typeof value === 'object' && value !== null && recipients.get(value) === recipient && (value as DownMessage).type === 'down';
}

/** @internal An exit or down message the runtime delivered to `recipient`: what its mailbox bound never drops. */
export function isSystemMessageFor(value: unknown, recipient: object): boolean {
  return typeof value === 'object' && value !== null && recipients.get(value) === recipient;
}
