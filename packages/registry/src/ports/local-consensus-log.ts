// A ConsensusLog for one node: commands are committed and applied in the order they are
// appended, in memory. It keeps the whole contract (indexes 1, 2, 3... without gaps, each
// command applied once, in order, before `append` resolves; `readIndex` is the last index), so
// `registerGlobal` works on a single node and in tests; a cluster needs Raft behind the port.
import type { AppliedEntry, ConsensusLog, ConsensusLogCallOptions } from './consensus-log';

export interface LocalConsensusLog<Command> extends ConsensusLog<Command> {
  /** Every applied entry, in order (for inspection). */
  entries(): readonly AppliedEntry<Command>[];
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('aborted');
}

export function createLocalConsensusLog<Command = unknown>(): LocalConsensusLog<Command> {
  const applied: AppliedEntry<Command>[] = [];
  const listeners = new Set<(entry: AppliedEntry<Command>) => void>();
  /**
   * Appended, not yet told to every listener. A listener that appends (a registry closed or a
   * name released from inside a handler) has its command told once the one being told has
   * reached every listener: told at once, nested, the listeners after it heard the later
   * command first.
   */
  const queue: AppliedEntry<Command>[] = [];
  let telling = false;
  const tell = (): void => {
    // One loop at a time: an append from inside it only queues.
    if (telling) return;
    telling = true;
    try {
      for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) {
        applied.push(entry);
        for (const listener of [...listeners]) {
          try {
            listener(entry);
          } catch {
            // A listener's failure is its own; the command stays applied for everyone else.
          }
        }
      }
    } finally {
      telling = false;
    }
  };
  return {
    append(command: Command, options?: ConsensusLogCallOptions): Promise<number> {
      if (options?.signal?.aborted) return Promise.reject(abortReason(options.signal));
      const entry: AppliedEntry<Command> = Object.freeze({ index: applied.length + queue.length + 1, command });
      queue.push(entry);
      tell();
      // Told to every listener by the time this resolves: an append from a listener resolves
      // after the loop that queued it, which runs to its end before any promise settles.
      return Promise.resolve(entry.index);
    },
    readIndex(options?: ConsensusLogCallOptions): Promise<number> {
      if (options?.signal?.aborted) return Promise.reject(abortReason(options.signal));
      return Promise.resolve(applied.length);
    },
    appliedIndex: () => applied.length,
    onApplied(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    entries: () => applied.slice(),
  };
}
