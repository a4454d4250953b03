// Weighted fair scheduling of outbound queues (one queue per channel and lane of a peer).
//
// Start-time fair queuing (Goyal, Vin and Cheng, SIGCOMM 1996) in its simplest form: every
// queue carries a virtual "pass"; sending a frame of n bytes advances the queue's pass by
// n / weight, and the ready queue with the smallest pass goes next. A queue that was idle
// re-enters level with the queue that would go next, so it cannot bank credit while idle, and a newly
// active high-weight queue (coordination) is served before the next frame of a backlogged
// low-weight one (bulk): a small message waits behind at most the one frame being written.
// Over any backlogged interval, bytes sent by two queues differ from their weight ratio by at
// most one frame; a queue that is active but cannot send (no credit, no connection yet) is
// treated as idle for this, so it cannot bank credit either.
//
// Pure and synchronous: the driver says which queues are ready (data, credit, open connection)
// and reports the bytes it sent.

export interface FairScheduler {
  /** Registers queue `queue` (a small non-negative integer) with a positive weight. */
  add(queue: number, weight: number): void;
  /**
   * Marks a queue as having become non-empty. A queue that was idle re-enters at the current
   * virtual time (it never banks credit); a queue already active keeps its pass.
   */
  activate(queue: number): void;
  /** Marks a queue as empty; it no longer takes part until activated again. */
  deactivate(queue: number): void;
  /**
   * The active queue with the smallest pass among those `isReady` accepts, or -1. Ties go to
   * the higher weight, then to the lower queue number, so the order is deterministic.
   */
  pick(isReady: (queue: number) => boolean): number;
  /** Accounts `bytes` sent by `queue`: its pass advances by bytes / weight. */
  charge(queue: number, bytes: number): void;
  /** Whether a queue is active (has data as far as the scheduler knows). */
  isActive(queue: number): boolean;
  /** Current virtual time (the start pass of the last frame served). */
  readonly virtualTime: number;
}

interface QueueState {
  readonly weight: number;
  pass: number;
  active: boolean;
}

export function createFairScheduler(): FairScheduler {
  const queues: (QueueState | undefined)[] = [];
  let virtualTime = 0;

  const state = (queue: number): QueueState => {
    const found = queues[queue];
    if (found === undefined) throw new RangeError(`fair scheduler: unknown queue ${queue}`);
    return found;
  };

  return {
    add(queue, weight) {
      if (!Number.isInteger(queue) || queue < 0) throw new RangeError(`fair scheduler: queue must be a non-negative integer (got ${queue})`);
      if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`fair scheduler: weight must be a positive number (got ${weight})`);
      if (queues[queue] !== undefined) throw new RangeError(`fair scheduler: queue ${queue} already registered`);
      queues[queue] = { weight, pass: virtualTime, active: false };
    },
    activate(queue) {
      const current = state(queue);
      if (current.active) return;
      // Re-enter level with the queue that would be served next (the smallest pass among the
      // active ones), or at the virtual time when none is active.
      let floor = Number.POSITIVE_INFINITY;
      for (const other of queues) if (other !== undefined && other.active && other.pass < floor) floor = other.pass;
      if (floor === Number.POSITIVE_INFINITY) floor = virtualTime;
      current.active = true;
      if (current.pass < floor) current.pass = floor;
    },
    deactivate(queue) {
      state(queue).active = false;
      // Nothing active: every queue starts level again, and passes (which only grow) stay far
      // from the range where adding a small frame's bytes / weight no longer changes them.
      for (const other of queues) if (other !== undefined && other.active) return;
      for (const other of queues) if (other !== undefined) other.pass = 0;
      virtualTime = 0;
    },
    pick(isReady) {
      let best = -1;
      let bestPass = Number.POSITIVE_INFINITY;
      let bestWeight = 0;
      let blocked: number[] | undefined;
      for (let index = 0; index < queues.length; index += 1) {
        const current = queues[index];
        if (current === undefined || !current.active) continue;
        if (current.pass > bestPass || (current.pass === bestPass && current.weight <= bestWeight)) continue;
        if (!isReady(index)) {
          (blocked ??= []).push(index);
          continue;
        }
        best = index;
        bestPass = current.pass;
        bestWeight = current.weight;
      }
      // Active queues passed over because they cannot send (no credit, a connection still
      // opening) are brought level with the one chosen, as an idle queue is when it becomes
      // active: waiting must not save them an advantage that they would spend in one burst
      // ahead of a queue that kept sending.
      if (best >= 0 && blocked !== undefined) {
        for (const index of blocked) {
          const waiting = queues[index]!;
          if (waiting.pass < bestPass) waiting.pass = bestPass;
        }
      }
      return best;
    },
    charge(queue, bytes) {
      const current = state(queue);
      if (current.pass > virtualTime) virtualTime = current.pass;
      current.pass += bytes / current.weight;
    },
    isActive(queue) {
      return state(queue).active;
    },
    get virtualTime() {
      return virtualTime;
    },
  };
}
