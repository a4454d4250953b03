// A ConsensusLog over testkit's SimTransport with one sequencer: every append goes to the
// sequencer, which gives it the next index and sends the entry to every node; nodes apply in
// index order and fetch what they missed. It keeps the port's contract (one total order,
// applied once, readIndex at the sequencer's last index) but not Raft's fault tolerance: a
// node cut off from the sequencer cannot append, read or learn, which is exactly what
// `registerGlobal` must survive (it times out rather than give a second holder).
// A follower can also install a snapshot from the sequencer, as a Raft follower too far behind
// its leader does: the sequencer's entries so far, compacted by the `compact` option, are heard
// again between `onRestore` and `onRestoreEnd`.
import type { Scheduler } from '@foundation/core';
import type { SimTransport } from '@foundation/testkit';
import type { AppliedEntry, ConsensusLog } from '../../src/ports/consensus-log';

const CHANNEL = 'test-sequencer';

type Message =
  | { readonly type: 'append'; readonly request: number; readonly command: unknown }
  | { readonly type: 'appended'; readonly request: number; readonly index: number }
  | { readonly type: 'read'; readonly request: number }
  | { readonly type: 'read-reply'; readonly request: number; readonly index: number }
  | { readonly type: 'entries'; readonly entries: readonly AppliedEntry<unknown>[] }
  | { readonly type: 'sync'; readonly after: number }
  | { readonly type: 'snapshot-request' }
  | { readonly type: 'snapshot'; readonly index: number; readonly entries: readonly AppliedEntry<unknown>[] };

export interface SequencerLog<Command> extends ConsensusLog<Command> {
  /** Entries the sequencer holds (only on the sequencer). */
  committed(): readonly AppliedEntry<Command>[];
  onRestore(listener: () => void): () => void;
  onRestoreEnd(listener: (snapshotIndex: number) => void): () => void;
  /** On a follower: asks the sequencer for a snapshot of everything committed, and installs it when it arrives (unless already past it). */
  requestSnapshot(): void;
}

export function createSequencerLog<Command>(
  transport: SimTransport,
  clock: Scheduler,
  sequencer: string,
  everyone: readonly string[],
  options: {
    readonly timeoutMs?: number;
    readonly syncMs?: number;
    /** What a snapshot retains of the committed entries (default all of them). */
    readonly compact?: (entries: readonly AppliedEntry<Command>[]) => readonly AppliedEntry<Command>[];
  } = {},
): SequencerLog<Command> {
  const self = transport.nodeId;
  const timeoutMs = options.timeoutMs ?? 2000;
  const log: AppliedEntry<Command>[] = []; // the sequencer's committed entries
  const pending = new Map<number, AppliedEntry<Command>>(); // received, not yet applied
  const listeners = new Set<(entry: AppliedEntry<Command>) => void>();
  const restoreListeners = new Set<() => void>();
  const endListeners = new Set<(snapshotIndex: number) => void>();
  const requests = new Map<number, { resolve: (index: number) => void; reject: (error: Error) => void }>();
  let applied = 0;
  let requestSequence = 0;

  const drain = (): void => {
    while (pending.has(applied + 1)) {
      const next = pending.get(applied + 1)!;
      pending.delete(applied + 1);
      applied = next.index;
      for (const listener of [...listeners]) listener(next);
    }
  };

  const apply = (entry: AppliedEntry<Command>): void => {
    if (entry.index <= applied) return;
    pending.set(entry.index, entry);
    drain();
  };

  /** Replaces what was applied by a snapshot taken at `index`: its retained entries are heard again, then what follows it. */
  const install = (index: number, retained: readonly AppliedEntry<Command>[]): void => {
    if (index < applied) return;
    for (const held of [...pending.keys()]) if (held <= index) pending.delete(held);
    applied = index;
    for (const listener of [...restoreListeners]) listener();
    for (const entry of retained) for (const listener of [...listeners]) listener(entry);
    for (const listener of [...endListeners]) listener(index);
    drain();
  };

  const commit = (command: unknown): number => {
    const entry: AppliedEntry<Command> = { index: log.length + 1, command: command as Command };
    log.push(entry);
    for (const node of everyone) if (node !== self) transport.send(node, CHANNEL, { type: 'entries', entries: [entry] } satisfies Message);
    apply(entry);
    return entry.index;
  };

  const request = (message: Message & { request: number }): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const timer = clock.setTimer(timeoutMs, () => {
        requests.delete(message.request);
        reject(new Error(`sequencer ${sequencer} did not answer within ${timeoutMs} ms`));
      });
      requests.set(message.request, {
        resolve: (index) => {
          timer.cancel();
          resolve(index);
        },
        reject,
      });
      transport.send(sequencer, CHANNEL, message);
    });

  transport.onMessage(CHANNEL, ({ from, payload }) => {
    const message = payload as Message;
    switch (message.type) {
      case 'append':
        if (self === sequencer) transport.send(from, CHANNEL, { type: 'appended', request: message.request, index: commit(message.command) } satisfies Message);
        return;
      case 'read':
        if (self === sequencer) transport.send(from, CHANNEL, { type: 'read-reply', request: message.request, index: log.length } satisfies Message);
        return;
      case 'appended':
      case 'read-reply': {
        const waiting = requests.get(message.request);
        requests.delete(message.request);
        waiting?.resolve(message.index);
        return;
      }
      case 'entries':
        for (const entry of message.entries) apply(entry as AppliedEntry<Command>);
        return;
      case 'sync':
        if (self === sequencer && message.after < log.length) transport.send(from, CHANNEL, { type: 'entries', entries: log.slice(message.after) } satisfies Message);
        return;
      case 'snapshot-request':
        if (self === sequencer) transport.send(from, CHANNEL, { type: 'snapshot', index: log.length, entries: options.compact?.(log) ?? log.slice() } satisfies Message);
        return;
      case 'snapshot':
        if (self !== sequencer) install(message.index, message.entries as readonly AppliedEntry<Command>[]);
        return;
    }
  });
  if (self !== sequencer) {
    clock.setRepeatingTimer(options.syncMs ?? 200, () => transport.send(sequencer, CHANNEL, { type: 'sync', after: applied } satisfies Message));
  }

  return {
    append(command) {
      if (self === sequencer) return Promise.resolve(commit(command));
      requestSequence += 1;
      return request({ type: 'append', request: requestSequence, command });
    },
    readIndex() {
      if (self === sequencer) return Promise.resolve(log.length);
      requestSequence += 1;
      return request({ type: 'read', request: requestSequence });
    },
    appliedIndex: () => applied,
    onApplied(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    committed: () => log.slice(),
    onRestore(listener) {
      restoreListeners.add(listener);
      return () => restoreListeners.delete(listener);
    },
    onRestoreEnd(listener) {
      endListeners.add(listener);
      return () => endListeners.delete(listener);
    },
    requestSnapshot() {
      if (self !== sequencer) transport.send(sequencer, CHANNEL, { type: 'snapshot-request' } satisfies Message);
    },
  };
}
