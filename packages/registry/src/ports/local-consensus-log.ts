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
  return {
    append(command: Command, options?: ConsensusLogCallOptions): Promise<number> {
      if (options?.signal?.aborted) return Promise.reject(abortReason(options.signal));
      const entry: AppliedEntry<Command> = Object.freeze({ index: applied.length + 1, command });
      applied.push(entry);
      for (const listener of [...listeners]) {
        try {
          listener(entry);
        } catch {
          // A listener's failure is its own; the command stays applied for everyone else.
        }
      }
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
