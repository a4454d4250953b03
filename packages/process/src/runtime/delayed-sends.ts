// `sendAfter`: a message sent after a delay of the runtime's clock. A process's timers die with
// the process; the runtime's own are tracked so that shutdown cancels those that have not fired
// (a pending timer would keep Node alive, then fire into a stopped runtime) and reports their
// messages as dead letters.
import type { Timer } from '@foundation/core';
import { Pid } from '../core/pid';
import { checkName, checkRemoteName } from '../core/names';
import { MailboxFullError } from '../errors/mailbox-full-error';
import { DEAD } from './lifecycle';
import { nonNegativeNumber } from './options';
import type { ProcessRecord } from './process-record';
import type { RuntimeImpl } from './runtime';
import type { Destination } from './types';

/** A `runtime.sendAfter` waiting for its timer. */
class PendingSend {
  timer: Timer | null = null;
  constructor(
    readonly to: Destination,
    readonly message: unknown,
  ) {}
}

const INERT_TIMER: Timer = Object.freeze({ cancel: () => undefined });

/**
 * Throws now, at the call, for a destination that could never be routed (as `send` would);
 * returns it, a remote name as a copy of what was checked. Thread-isolated processes check
 * their `sendAfter` with it too.
 */
export function checkDestination(to: Destination): Destination {
  if (to instanceof Pid || Pid.is(to)) return to;
  if (typeof to === 'string') return checkName(to);
  return checkRemoteName(to);
}

/**
 * Delivers a due message. Nobody waits on a timer to learn that delivery failed (a full
 * `overflow: 'reject'` mailbox throws to a sender), and an exception here would escape the
 * timer and end the Node process, so the message becomes a dead letter instead.
 */
function deliverDue(runtime: RuntimeImpl, to: Destination, message: unknown, from: Pid | undefined): void {
  try {
    runtime.route(to, message, from, false, undefined);
  } catch (error) {
    runtime.deadLetter(describeDestination(to), message, error instanceof MailboxFullError ? 'overflow' : 'noproc', from);
  }
}

/**
 * A destination as text, for dead letters. Never throws: it runs where delivery already failed,
 * on a value that may have stopped being readable since the call (a revoked proxy).
 */
export function describeDestination(to: Destination): string {
  try {
    if (to instanceof Pid || Pid.is(to)) return to.toString();
    if (typeof to === 'string') return to;
    return typeof to === 'object' && to !== null ? `${String(to.name)}@${String(to.node)}` : String(to);
  } catch {
    return '<unreadable destination>';
  }
}

export class DelayedSends {
  /** `runtime.sendAfter` timers that have not fired or been cancelled. */
  private readonly pending = new Set<PendingSend>();

  constructor(private readonly runtime: RuntimeImpl) {}

  /** `runtime.sendAfter`. */
  sendAfter(delayMs: number, to: Destination, message: unknown): Timer {
    const runtime = this.runtime;
    nonNegativeNumber('delayMs', delayMs, 0);
    if (runtime.status === 'stopped') {
      runtime.deadLetter(describeDestination(to), message, 'shutdown', undefined);
      return INERT_TIMER;
    }
    checkDestination(to);
    const entry = new PendingSend(to, message);
    entry.timer = runtime.clock.setTimer(delayMs, () => {
      this.pending.delete(entry);
      deliverDue(runtime, to, message, undefined);
    });
    this.pending.add(entry);
    return {
      cancel: () => {
        if (this.pending.delete(entry)) entry.timer!.cancel();
      },
    };
  }

  /** `self.sendAfter`: the timer dies with the process. */
  sendAfterFrom(record: ProcessRecord, delayMs: number, to: Destination, message: unknown): Timer {
    nonNegativeNumber('delayMs', delayMs, 0);
    checkDestination(to);
    if (record.status === DEAD) return { cancel: () => undefined };
    const timers = (record.timers ??= new Set());
    const timer = this.runtime.clock.setTimer(delayMs, () => {
      timers.delete(timer);
      if (record.status !== DEAD) deliverDue(this.runtime, to, message, record.pid);
    });
    timers.add(timer);
    return {
      cancel: () => {
        timers.delete(timer);
        timer.cancel();
      },
    };
  }

  /** Shutdown: cancels the runtime's timers that have not fired; their messages are dead letters. */
  cancelAll(): void {
    for (const entry of [...this.pending]) {
      this.pending.delete(entry);
      entry.timer!.cancel();
      this.runtime.deadLetter(describeDestination(entry.to), entry.message, 'shutdown', undefined);
    }
  }
}
