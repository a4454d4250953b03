// A ConsensusLog over testkit's SimTransport with one sequencer: every append goes to the
// sequencer, which gives it the next index and sends the entry to every node; nodes apply in
// index order and fetch what they missed. It keeps the port's contract (one total order,
// applied once, readIndex at the sequencer's last index) but not Raft's fault tolerance: a
// node cut off from the sequencer cannot append, read or learn, which is exactly what
// `registerGlobal` must survive (it times out rather than give a second holder).
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
  | { readonly type: 'sync'; readonly after: number };

export interface SequencerLog<Command> extends ConsensusLog<Command> {
  /** Entries the sequencer holds (only on the sequencer). */
  committed(): readonly AppliedEntry<Command>[];
}

export function createSequencerLog<Command>(
  transport: SimTransport,
  clock: Scheduler,
  sequencer: string,
  everyone: readonly string[],
  options: { readonly timeoutMs?: number; readonly syncMs?: number } = {},
): SequencerLog<Command> {
  const self = transport.nodeId;
  const timeoutMs = options.timeoutMs ?? 2000;
  const log: AppliedEntry<Command>[] = []; // the sequencer's committed entries
  const pending = new Map<number, AppliedEntry<Command>>(); // received, not yet applied
  const listeners = new Set<(entry: AppliedEntry<Command>) => void>();
  const requests = new Map<number, { resolve: (index: number) => void; reject: (error: Error) => void }>();
  let applied = 0;
  let requestSequence = 0;

  const apply = (entry: AppliedEntry<Command>): void => {
    if (entry.index <= applied) return;
    pending.set(entry.index, entry);
    while (pending.has(applied + 1)) {
      const next = pending.get(applied + 1)!;
      pending.delete(applied + 1);
      applied = next.index;
      for (const listener of [...listeners]) listener(next);
    }
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
  };
}
