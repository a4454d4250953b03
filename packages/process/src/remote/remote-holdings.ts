// What this node holds because of other nodes: links between local processes and processes
// there (`record.remoteLinks`, made from either side; and `record.remoteUnlinking`, links a local
// process unlinked whose unlink the other node has not acknowledged yet) and monitors that processes there have on
// local processes (the pid entries of `record.monitorsIn`). A peer adds one with one signal
// naming any pid of its own, so both are bounded (RemoteLimits). This module keeps the counts
// the bounds need, per local process and per other node. Every change to those entries goes
// through it, or (where the runtime replaces or clears them) tells it, so that the counts stay
// exact: the remote bridge adds and removes them, a process's exit releases its own (`release`).
import { Pid } from '../core/pid';
import type { ResolvedRemoteLimits } from '../runtime/options';
import type { ProcessRecord } from '../runtime/process-record';
import type { MonitorRef } from '../runtime/types';

/** Which bound a refused link or monitor reached. */
export type LimitScope = 'process' | 'node';

export class RemoteHoldings {
  /** Entries held for each other node: links with its processes and monitors by them. */
  private readonly perNode = new Map<string, number>();
  /** Monitors by processes on other nodes, per local process (links are `remoteLinks.size`). */
  private readonly remoteWatchers = new WeakMap<ProcessRecord, number>();

  constructor(readonly limits: ResolvedRemoteLimits) {}

  /** Entries held for `node`. */
  heldFor(node: string): number {
    return this.perNode.get(node) ?? 0;
  }

  /** Monitors by processes on other nodes that `record` has on it. */
  watchersOf(record: ProcessRecord): number {
    return this.remoteWatchers.get(record) ?? 0;
  }

  private count(node: string, delta: number): void {
    const next = this.heldFor(node) + delta;
    if (next > 0) this.perNode.set(node, next);
    else this.perNode.delete(node);
  }

  /** The bound a new link between `record` and `pid` would pass, or undefined when it fits. */
  linkLimit(record: ProcessRecord, pid: Pid): LimitScope | undefined {
    if ((record.remoteLinks?.size ?? 0) + (record.remoteUnlinking?.size ?? 0) >= this.limits.maxLinksPerProcess) return 'process';
    if (this.heldFor(pid.node) >= this.limits.maxPerNode) return 'node';
    return undefined;
  }

  /** True when `record` is linked with `pid`. */
  hasLink(record: ProcessRecord, pid: Pid): boolean {
    return record.remoteLinks?.has(pid.toString()) === true;
  }

  /** Records a link between `record` and `pid` (a no-op when it exists). Check `linkLimit` first. */
  addLink(record: ProcessRecord, pid: Pid): void {
    const key = pid.toString();
    const links = (record.remoteLinks ??= new Map());
    if (links.has(key)) return;
    links.set(key, pid);
    this.count(pid.node, 1);
  }

  /** Removes the link between `record` and `pid`; false when there was none. */
  removeLink(record: ProcessRecord, pid: Pid): boolean {
    if (record.remoteLinks?.delete(pid.toString()) !== true) return false;
    this.count(pid.node, -1);
    return true;
  }

  /** The id of the unlink `record` is waiting to have acknowledged for `pid`, if it is unlinking it. */
  unlinkingId(record: ProcessRecord, pid: Pid): number | undefined {
    return record.remoteUnlinking?.get(pid.toString())?.id;
  }

  /** Moves the link between `record` and `pid` to the unlinking state, under `id` (it stays counted). */
  startUnlinking(record: ProcessRecord, pid: Pid, id: number): void {
    const key = pid.toString();
    if (record.remoteLinks?.delete(key) !== true) return;
    (record.remoteUnlinking ??= new Map()).set(key, { pid, id });
  }

  /** A link made again while it was being unlinked: active again (it stays counted). */
  relink(record: ProcessRecord, pid: Pid): void {
    const key = pid.toString();
    if (record.remoteUnlinking?.delete(key) !== true) return;
    (record.remoteLinks ??= new Map()).set(key, pid);
  }

  /**
   * Ends the unlinking state of the link between `record` and `pid` (only the one under `id` when
   * given: the ack of an earlier unlink does not end a later one); false when there was none.
   */
  endUnlinking(record: ProcessRecord, pid: Pid, id?: number): boolean {
    const key = pid.toString();
    const entry = record.remoteUnlinking?.get(key);
    if (entry === undefined || (id !== undefined && entry.id !== id)) return false;
    record.remoteUnlinking!.delete(key);
    this.count(pid.node, -1);
    return true;
  }

  /** The bound a new monitor on `record` by a process on `node` would pass, or undefined when it fits. */
  monitorLimit(record: ProcessRecord, node: string): LimitScope | undefined {
    if (this.watchersOf(record) >= this.limits.maxMonitorsPerProcess) return 'process';
    if (this.heldFor(node) >= this.limits.maxPerNode) return 'node';
    return undefined;
  }

  /** Records a monitor by `watcher` on `record` under `ref`, which must be free. Check `monitorLimit` first. */
  addMonitor(record: ProcessRecord, ref: MonitorRef, watcher: Pid): void {
    (record.monitorsIn ??= new Map()).set(ref, watcher);
    this.remoteWatchers.set(record, this.watchersOf(record) + 1);
    this.count(watcher.node, 1);
  }

  /**
   * Counts off a monitor by `watcher` (on another node) that the caller has removed from
   * `record.monitorsIn`, or replaced there.
   */
  monitorGone(record: ProcessRecord, watcher: Pid): void {
    const watchers = this.watchersOf(record) - 1;
    if (watchers > 0) this.remoteWatchers.set(record, watchers);
    else this.remoteWatchers.delete(record);
    this.count(watcher.node, -1);
  }

  /** Removes the monitor `ref` on `record` when a process on another node holds it; false otherwise. */
  removeMonitor(record: ProcessRecord, ref: MonitorRef): boolean {
    const watcher = record.monitorsIn?.get(ref);
    if (!Pid.is(watcher)) return false;
    record.monitorsIn!.delete(ref);
    this.monitorGone(record, watcher);
    return true;
  }

  /**
   * `record` has exited: everything it held for other nodes goes. Called as its exit sends the
   * exits and downs those entries call for, before it clears them.
   */
  release(record: ProcessRecord): void {
    if (record.remoteLinks !== null) for (const pid of record.remoteLinks.values()) this.count(pid.node, -1);
    if (record.remoteUnlinking !== null) for (const { pid } of record.remoteUnlinking.values()) this.count(pid.node, -1);
    if (record.monitorsIn !== null) {
      for (const watcher of record.monitorsIn.values()) if (Pid.is(watcher)) this.count(watcher.node, -1);
    }
    this.remoteWatchers.delete(record);
  }
}
