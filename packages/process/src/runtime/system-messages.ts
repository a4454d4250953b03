// The messages the runtime itself puts in a mailbox: `exit` (a trapped exit signal) and `down`
// (a monitor fired). They are branded with a Symbol.for marker so that the guards recognise
// them across copies of this package.
import type { Pid } from '../core/pid';
import type { ExitReason, MonitorRef } from './types';

const EXIT_MARKER: unique symbol = Symbol.for('@foundation/process/ExitMessage') as never;
const DOWN_MARKER: unique symbol = Symbol.for('@foundation/process/DownMessage') as never;

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

/** True for an `exit` message; false, never a throw, for anything else. */
export function isExitMessage(value: unknown): value is ExitMessage {
  return hasMarker(value, EXIT_MARKER);
}

/** True for a `down` message; false, never a throw, for anything else. */
export function isDownMessage(value: unknown): value is DownMessage {
  return hasMarker(value, DOWN_MARKER);
}

/** @internal An exit or a down message: what mailbox bounds never drop. */
export function isSystemMessage(value: unknown): boolean {
  return isExitMessage(value) || isDownMessage(value);
}
