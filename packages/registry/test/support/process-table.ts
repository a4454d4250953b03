// A small process table satisfying the registry's Monitor port the way @foundation/process's
// runtime does: pids are `{ node, id }` values (with a `<node.id.0>` JSON form), `monitor`
// calls back once when the process exits, at once (on the next timer turn) with `noproc` for
// a process that is not alive, and `demonitor` cancels.
import type { Scheduler } from '@foundation/core';
import type { Monitor, MonitorDown } from '../../src/ports/monitor';

export interface TestPid {
  readonly node: string;
  readonly id: number;
  toJSON(): string;
}

export interface ProcessTable extends Monitor<TestPid> {
  spawn(): TestPid;
  exit(pid: TestPid, reason?: unknown): void;
  isAlive(pid: TestPid): boolean;
  monitors(): number;
}

export function createProcessTable(node: string, clock: Scheduler): ProcessTable {
  const alive = new Set<number>();
  const watchers = new Map<number, Map<number, (down: MonitorDown) => void>>();
  let nextPid = 0;
  let nextReference = 0;
  return {
    spawn() {
      nextPid += 1;
      const id = nextPid;
      alive.add(id);
      return Object.freeze({ node, id, toJSON: () => `<${node}.${id}.0>` });
    },
    exit(pid, reason = 'normal') {
      if (!alive.delete(pid.id)) return;
      const callbacks = watchers.get(pid.id);
      watchers.delete(pid.id);
      for (const callback of callbacks?.values() ?? []) callback({ reason });
    },
    isAlive: (pid) => alive.has(pid.id),
    monitor(pid, onDown) {
      nextReference += 1;
      const reference = nextReference;
      if (!alive.has(pid.id)) {
        clock.setTimer(0, () => onDown({ reason: 'noproc' }));
        return reference;
      }
      let callbacks = watchers.get(pid.id);
      if (callbacks === undefined) {
        callbacks = new Map();
        watchers.set(pid.id, callbacks);
      }
      callbacks.set(reference, onDown);
      return reference;
    },
    demonitor(reference) {
      for (const callbacks of watchers.values()) callbacks.delete(reference as number);
    },
    monitors: () => [...watchers.values()].reduce((sum, callbacks) => sum + callbacks.size, 0),
  };
}
