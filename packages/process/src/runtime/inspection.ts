// What the runtime tells about its processes and itself: a process's status, mailbox, links,
// monitors and a memory estimate; the runtime's counters. Read-only: nothing here changes state.
import { estimateSize } from '../core/estimate-size';
import { withoutContext } from './envelopes';
import type { Pid } from '../core/pid';
import { DEAD, EXITING, STARTING } from './lifecycle';
import type { ProcessRecord } from './process-record';
import type { RuntimeImpl } from './runtime';
import type { ProcessInfo, ProcessStatus } from './types';

/** Rough bytes of an idle process: its record, pid and empty mailbox (measured by the spawn benchmark). */
const PROCESS_BASE_BYTES = 420;

export interface RuntimeStats {
  readonly processes: number;
  readonly runQueueLength: number;
  readonly messagesHandled: number;
  readonly deadLetters: number;
  /** Calls waiting for a reply (local and remote) that have a deadline. */
  readonly pendingCallDeadlines: number;
  readonly pendingRemoteCalls: number;
  /** Signals from other nodes dropped because they did not validate. */
  readonly malformedSignals: number;
  /**
   * Links and monitors refused because a RemoteLimits bound was reached (the process that asked
   * got an exit signal or a `down` with `system_limit`).
   */
  readonly remoteLimitRefusals: number;
  readonly threadWorkers: number;
}

/** Rough bytes held by a process: its record, its mailbox buffers and a sample of its messages, its state. */
export function memoryEstimate(record: ProcessRecord): number {
  let bytes = PROCESS_BASE_BYTES + record.mailbox.retainedBytes();
  const sample = Math.min(record.mailbox.length, 32);
  if (sample > 0) {
    let sampled = 0;
    for (let index = 0; index < sample; index += 1) sampled += estimateSize(withoutContext(record.mailbox.at(index)), 200);
    bytes += Math.round((sampled / sample) * record.mailbox.length);
  }
  return bytes + estimateSize(record.state, 1000);
}

/** Info for a live record; mailbox ages on `now` of the runtime's clock. */
export function describeProcess(record: ProcessRecord, now: number): ProcessInfo {
  const mailbox = record.mailbox;
  const oldest = mailbox.oldestTime();
  let status: ProcessStatus;
  if (record.status === STARTING) status = 'starting';
  else if (record.status === EXITING) status = 'exiting';
  else if (record.status === DEAD) status = 'exited';
  else status = record.busy || record.queued || record.inHandler ? 'running' : 'waiting';
  const links: Pid[] = [];
  if (record.links !== null) for (const linked of record.links) links.push(linked.pid);
  if (record.remoteLinks !== null) links.push(...record.remoteLinks.values());
  return {
    pid: record.pid,
    name: record.name,
    status,
    mailbox: {
      length: mailbox.length,
      oldestAgeMs: Number.isNaN(oldest) ? 0 : Math.max(0, now - oldest),
      waiting: record.waiting?.length ?? 0,
      maxWaiting: record.bounds.maxWaiting,
      capacity: record.capacity,
      overflow: record.bounds.overflow,
      dropped: record.dropped,
    },
    links,
    monitors: record.monitorsOut === null ? [] : [...record.monitorsOut.values()],
    monitoredBy: record.monitorsIn?.size ?? 0,
    trapExits: record.trapping,
    messagesHandled: record.handled,
    isolation: record.bridge === null ? 'none' : 'thread',
    memoryEstimateBytes: memoryEstimate(record),
  };
}

/** Pids of every live process, in spawn order. */
export function livePids(runtime: RuntimeImpl): Pid[] {
  const pids: Pid[] = [];
  for (const record of runtime.table.values()) if (record.status !== DEAD) pids.push(record.pid);
  return pids;
}

export function runtimeStats(runtime: RuntimeImpl): RuntimeStats {
  return {
    processes: runtime.table.size,
    runQueueLength: runtime.runQueueLength,
    messagesHandled: runtime.messagesHandled,
    deadLetters: runtime.deadLetters,
    pendingCallDeadlines: runtime.calls.pendingDeadlines,
    pendingRemoteCalls: runtime.calls.remote.size,
    malformedSignals: runtime.remote?.malformed ?? 0,
    remoteLimitRefusals: runtime.remote?.limitRefusals ?? 0,
    threadWorkers: runtime.threads?.workerCount() ?? 0,
  };
}
