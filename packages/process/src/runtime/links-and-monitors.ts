// Links, monitors and exit signals, with the BEAM's semantics: an exit signal ends its target or,
// when the target traps exits, becomes an `exit` message (exit-signal.ts decides which); a link
// carries a process's exit to the other side; a monitor delivers one `down` message. Signals are
// queued and drained in a loop, so a cascade through a long chain of links never recurses.
import { decideExit } from '../core/exit-signal';
import { RingQueue } from '../core/ring-queue';
import { Pid } from '../core/pid';
import { incarnationBase, runtimeRef } from '../core/ref';
import { InvalidOptionError } from '../errors/invalid-option-error';
import { InvalidPidError } from '../errors/invalid-pid-error';
import { DEAD, EXITING, NONE, UNTRAPPABLE_KILL } from './lifecycle';
import { ProcessRecord } from './process-record';
import type { Watcher } from './process-record';
import type { RuntimeImpl } from './runtime';
import { downMessage, exitMessage, isDownFor } from './system-messages';
import type { DownMessage } from './system-messages';
import type { ExitReason, MonitorRef } from './types';

interface ExitSignalItem {
  readonly target: ProcessRecord;
  readonly from: Pid;
  readonly reason: unknown;
  readonly fromLink: boolean;
}

export class LinksAndMonitors {
  private readonly exitSignals = new RingQueue<ExitSignalItem>();
  private draining = false;
  private refCounter = 0;
  /** `runtime.monitor` callbacks, by reference (the system process is their watcher). */
  private readonly callbacks = new Map<MonitorRef, (down: DownMessage) => void>();

  constructor(private readonly runtime: RuntimeImpl) {}

  /** An exit signal from `from` to `to` (exit/2, not a link). */
  sendExit(from: Pid, to: Pid, reason: unknown): void {
    const runtime = this.runtime;
    if (!Pid.is(to)) throw new InvalidPidError('exit needs a pid');
    if (to.node !== runtime.nodeId) {
      runtime.remote?.sendExit(from, to, reason, false);
      return;
    }
    const record = to.creation === runtime.creation ? runtime.table.get(to.id) : undefined;
    if (record === undefined) return;
    this.queueExitSignal(record, from, reason, false);
    this.drainExitSignals();
  }

  /** Queues an exit signal; `drainExitSignals` delivers them without recursion. */
  queueExitSignal(target: ProcessRecord, from: Pid, reason: unknown, fromLink: boolean): void {
    this.exitSignals.push({ target, from, reason, fromLink });
  }

  /** Delivers queued exit signals; cascades through links iterate here, never recurse. */
  drainExitSignals(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.exitSignals.length > 0) {
        const signal = this.exitSignals.shift()!;
        const target = signal.target;
        if (target.status === DEAD) continue;
        if (!signal.fromLink && this.runtime.isInternal(target)) {
          this.refuse(target, signal.from, signal.reason);
          continue;
        }
        const decision = decideExit(
          {
            reason: signal.reason,
            fromLink: signal.fromLink,
            fromSelf: signal.from.equals(target.pid),
            fromParent: target.parent !== null && signal.from.equals(target.parent.pid),
          },
          target.trapping,
        );
        if (decision.action === 'message') this.runtime.enqueueSystem(target, exitMessage(signal.from, signal.reason as ExitReason));
        else if (decision.action === 'terminate') {
          if (signal.fromLink && (target.inHandler || target.workerInHandler) && target.status !== EXITING) this.holdLinkExit(target, signal.from, decision.reason);
          // The untrappable end exits with `killed`, without terminate.
          else this.runtime.terminate(target, decision.untrappable === true ? UNTRAPPABLE_KILL : decision.reason);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * An exit signal (exit/2) to the system process or the root supervisor, from anyone: a process,
   * `runtime.exit`, a worker thread or another node. The runtime needs both for as long as it
   * runs, and only its shutdown ends them, so the signal is refused and reported as a dead letter
   * (`refused`, the signal as the `exit` message a trapping process would have got). Links still
   * reach them: both trap exits, so a broken link is a message (how the root supervises).
   */
  private refuse(target: ProcessRecord, from: Pid, reason: unknown): void {
    this.runtime.deadLetter(target.pid.toString(), exitMessage(from, reason as ExitReason), 'refused', from);
  }

  /**
   * An exit signal from a link that reached a process in a synchronous callback: it ends the
   * process when the callback returns (as runtime.terminate would have it), unless the callback
   * unlinks `from` first (`dropHeldLinkExits`).
   */
  private holdLinkExit(target: ProcessRecord, from: Pid, reason: unknown): void {
    const held = (target.heldLinkExits ??= { exits: [], pendingFromLink: false });
    held.exits.push({ from, reason });
    if (target.pendingExit === NONE) {
      target.pendingExit = reason;
      held.pendingFromLink = true;
    }
  }

  /**
   * `record` unlinks `pid` during a callback: an exit signal from that link still waiting for the
   * callback to return has had no effect yet, and now has none. If it was the exit the process
   * was to end with, the next held one from another link takes its place.
   */
  private dropHeldLinkExits(record: ProcessRecord, pid: Pid): void {
    const held = record.heldLinkExits;
    if (held === null || record.status === EXITING || record.status === DEAD) return;
    const remaining = held.exits.filter((exit) => !exit.from.equals(pid));
    if (remaining.length === held.exits.length) return;
    if (held.pendingFromLink) record.pendingExit = remaining.length === 0 ? NONE : remaining[0]!.reason;
    record.heldLinkExits = remaining.length === 0 ? null : { exits: remaining, pendingFromLink: held.pendingFromLink };
  }

  /** Links two local processes. */
  addLocalLink(a: ProcessRecord, b: ProcessRecord): void {
    (a.links ??= new Set()).add(b);
    (b.links ??= new Set()).add(a);
  }

  /** `self.link(pid)`. */
  link(record: ProcessRecord, pid: Pid): void {
    const runtime = this.runtime;
    if (!Pid.is(pid)) throw new InvalidPidError('link needs a pid');
    if (pid.equals(record.pid)) return;
    if (pid.node !== runtime.nodeId) {
      if (runtime.remote === null) {
        this.queueExitSignal(record, pid, 'noconnection', true);
        this.drainExitSignals();
        return;
      }
      runtime.remote.link(record, pid);
      return;
    }
    const target = pid.creation === runtime.creation ? runtime.table.get(pid.id) : undefined;
    if (target === undefined || target.status === DEAD) {
      this.queueExitSignal(record, pid, 'noproc', true);
      this.drainExitSignals();
      return;
    }
    this.addLocalLink(record, target);
  }

  /** `self.unlink(pid)`. */
  unlink(record: ProcessRecord, pid: Pid): void {
    const runtime = this.runtime;
    if (!Pid.is(pid)) throw new InvalidPidError('unlink needs a pid');
    this.dropHeldLinkExits(record, pid);
    if (pid.node !== runtime.nodeId) {
      runtime.remote?.unlink(record, pid);
      return;
    }
    // A pid of an earlier incarnation is not the process that has its local id now.
    const target = pid.creation === runtime.creation ? runtime.table.get(pid.id) : undefined;
    if (target === undefined) return;
    record.links?.delete(target);
    target.links?.delete(record);
  }

  /** A new monitor reference, unique in the cluster (ref.ts). */
  newRef(): MonitorRef {
    this.refCounter += 1;
    return runtimeRef(this.runtime.nodeId, incarnationBase(this.runtime.creation) + this.refCounter);
  }

  /** `self.monitor(pid)`. */
  monitorFrom(watcher: ProcessRecord, pid: Pid): MonitorRef {
    if (!Pid.is(pid)) throw new InvalidPidError('monitor needs a pid');
    const ref = this.newRef();
    this.addMonitor(watcher, pid, ref);
    return ref;
  }

  /** Adds a monitor with a given reference (thread processes bring their own). */
  addMonitor(watcher: ProcessRecord, pid: Pid, ref: MonitorRef): void {
    const runtime = this.runtime;
    if (watcher.status === DEAD) return;
    if (pid.node !== runtime.nodeId) {
      if (runtime.remote === null) {
        runtime.enqueueSystem(watcher, downMessage(ref, pid, 'noconnection'));
        return;
      }
      (watcher.monitorsOut ??= new Map()).set(ref, pid);
      runtime.remote.monitor(watcher, pid, ref);
      return;
    }
    const target = pid.creation === runtime.creation ? runtime.table.get(pid.id) : undefined;
    if (target === undefined || target.status === DEAD) {
      runtime.enqueueSystem(watcher, downMessage(ref, pid, 'noproc'));
      return;
    }
    (watcher.monitorsOut ??= new Map()).set(ref, pid);
    // References of different nodes never coincide, but a node of an earlier version makes its
    // workers' in a form (`#Ref<m.t1.5>`) that this node's own can take if it is named `m.t1`
    // (ref.ts); the remote watcher such a reference replaces no longer counts.
    const replaced = target.monitorsIn?.get(ref);
    if (Pid.is(replaced)) runtime.remote?.holdings.monitorGone(target, replaced);
    (target.monitorsIn ??= new Map()).set(ref, watcher);
  }

  /** `self.demonitor(ref)`. */
  demonitorFrom(watcher: ProcessRecord, ref: MonitorRef): void {
    const runtime = this.runtime;
    const pid = watcher.monitorsOut?.get(ref);
    if (pid === undefined) return;
    watcher.monitorsOut!.delete(ref);
    if (pid.node !== runtime.nodeId) {
      runtime.remote?.demonitor(watcher, pid, ref);
      return;
    }
    runtime.table.get(pid.id)?.monitorsIn?.delete(ref);
  }

  /** `runtime.monitor(pid, onDown)`: the system process watches, and calls `onDown` from a slice. */
  monitor(pid: Pid, onDown: (down: DownMessage) => void): MonitorRef {
    if (!Pid.is(pid)) throw new InvalidPidError('monitor needs a pid');
    // At the call: a callback that is not one would otherwise fail only when the process exits.
    if (typeof onDown !== 'function') throw new InvalidOptionError('onDown', `must be a function (got ${onDown === null ? 'null' : typeof onDown})`);
    const ref = this.newRef();
    this.callbacks.set(ref, onDown);
    this.addMonitor(this.runtime.system, pid, ref);
    return ref;
  }

  demonitor(ref: MonitorRef): void {
    this.callbacks.delete(ref);
    this.demonitorFrom(this.runtime.system, ref);
  }

  /**
   * What the system process does with a message: run the callback of a `down` the runtime
   * delivered to it, ignore anything else. Anyone may send to the system process, and
   * references are predictable, so a lookalike of a down (or a message it cannot even read: a
   * getter or a proxy that throws) must neither run a callback nor end the process.
   */
  systemMessage(message: unknown): void {
    if (!isDownFor(message, this.runtime.system)) return;
    const ref = message.ref;
    const callback = this.callbacks.get(ref);
    if (callback === undefined) return;
    this.callbacks.delete(ref);
    try {
      callback(message);
    } catch (error) {
      this.runtime.emit(['foundation', 'process', 'monitor-callback-failed'], { count: 1 }, { ref, error });
    }
  }

  /** Resolves with the exit reason of `pid` once it has exited (`noproc` if it is not alive now). */
  whenExited(pid: Pid): Promise<ExitReason> {
    if (!Pid.is(pid)) return Promise.reject(new InvalidPidError('whenExited needs a pid'));
    const runtime = this.runtime;
    if (pid.node === runtime.nodeId) {
      const record = pid.creation === runtime.creation ? runtime.table.get(pid.id) : undefined;
      if (record === undefined || record.status === DEAD) return Promise.resolve('noproc');
      return new Promise((resolve) => {
        (record.exitWaiters ??= []).push((reason) => resolve(reason as ExitReason));
      });
    }
    return new Promise((resolve) => this.monitor(pid, (down) => resolve(down.reason)));
  }

  /** The process `record` is gone: its links get exit signals, its watchers `down`s, its monitors go. */
  processExited(record: ProcessRecord, reason: unknown): void {
    const runtime = this.runtime;
    const pid = record.pid;
    runtime.remote?.release(record);
    if (record.links !== null) {
      for (const linked of record.links) {
        linked.links?.delete(record);
        this.queueExitSignal(linked, pid, reason, true);
      }
      record.links = null;
    }
    if (record.remoteLinks !== null) {
      for (const remotePid of record.remoteLinks.values()) runtime.remote?.sendExit(pid, remotePid, reason, true);
      record.remoteLinks = null;
    }
    // Links being unlinked are gone for this process: no exit signal (the other side dropped or
    // drops its own as the unlink reaches it), and the ack finds no process.
    record.remoteUnlinking = null;
    if (record.monitorsIn !== null) {
      for (const [ref, watcher] of record.monitorsIn) this.notifyDown(watcher, ref, pid, reason);
      record.monitorsIn = null;
    }
    if (record.monitorsOut !== null) {
      for (const [ref, watched] of record.monitorsOut) {
        if (watched.node === runtime.nodeId) runtime.table.get(watched.id)?.monitorsIn?.delete(ref);
        else runtime.remote?.demonitor(record, watched, ref);
      }
      record.monitorsOut = null;
    }
  }

  /** Tells a watcher that the process `pid` it monitored is down. */
  notifyDown(watcher: Watcher, ref: MonitorRef, pid: Pid, reason: unknown): void {
    if (watcher instanceof ProcessRecord) {
      watcher.monitorsOut?.delete(ref);
      this.runtime.enqueueSystem(watcher, downMessage(ref, pid, reason as ExitReason));
    } else {
      this.runtime.remote?.sendDown(watcher, ref, pid, reason);
    }
  }
}
