import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { blockedProcess, deferred, lookalikeExit, settle, simulatedRuntime, until } from '../../test/support';
import { InvalidOptionError } from '../errors/invalid-option-error';
import { MailboxFullError } from '../errors/mailbox-full-error';
import type { DeadLetter } from './options';
import { createRuntime } from './runtime';
import { isDownMessage, isExitMessage } from './system-messages';
import type { OverflowPolicy, ProcessSelf } from './types';
import type { Pid } from '../core/pid';

/** A runtime with a process that is stuck in its first message until `release` is called. */
function blockedReceiver(capacity: number, overflow: OverflowPolicy) {
  const letters: DeadLetter[] = [];
  const runtime = createRuntime({ nodeId: 'node-a', onDeadLetter: (letter) => letters.push(letter) });
  return { runtime, letters, ...blockedProcess(runtime, { capacity, overflow }) };
}

describe('bounded mailboxes', () => {
  it('drop-newest keeps what is queued and drops arrivals, reporting each', async () => {
    const { runtime, pid, letters, handled, release } = blockedReceiver(2, 'drop-newest');
    await settle();
    for (const message of [1, 2, 3, 4]) runtime.send(pid, message);
    expect(runtime.processInfo(pid)?.mailbox).toMatchObject({ length: 2, dropped: 2 });
    expect(letters.map(({ message, reason }) => [message, reason])).toEqual([
      [3, 'overflow'],
      [4, 'overflow'],
    ]);
    release();
    await until(() => handled.length === 3);
    expect(handled).toEqual(['block', 1, 2]);
    await runtime.shutdown();
  });

  it('drop-oldest keeps the newest messages and reports the dropped ones', async () => {
    const { runtime, pid, letters, handled, release } = blockedReceiver(2, 'drop-oldest');
    await settle();
    for (const message of [1, 2, 3, 4]) runtime.send(pid, message);
    expect(letters.map(({ message }) => message)).toEqual([1, 2]);
    release();
    await until(() => handled.length === 3);
    expect(handled).toEqual(['block', 3, 4]);
    await runtime.shutdown();
  });

  it('fails a dropped call at once instead of leaving its caller to time out', async () => {
    const { runtime, pid, release } = blockedReceiver(1, 'drop-oldest');
    await settle();
    const dropped = runtime.call(pid, 'dropped call');
    runtime.send(pid, 'newer');
    await expect(dropped).rejects.toBeInstanceOf(MailboxFullError);
    const refused = blockedReceiver(1, 'drop-newest');
    await settle();
    refused.runtime.send(refused.pid, 'fills it');
    await expect(refused.runtime.call(refused.pid, 'no room')).rejects.toMatchObject({ capacity: 1 });
    release();
    refused.release();
    await runtime.shutdown();
    await refused.runtime.shutdown();
  });

  it('reject throws MailboxFullError to the sender, rejects calls and sendAsync', async () => {
    const { runtime, pid, handled, release } = blockedReceiver(1, 'reject');
    await settle();
    runtime.send(pid, 1);
    expect(() => runtime.send(pid, 2)).toThrow(MailboxFullError);
    await expect(runtime.call(pid, 'call')).rejects.toBeInstanceOf(MailboxFullError);
    await expect(runtime.sendAsync(pid, 3)).rejects.toBeInstanceOf(MailboxFullError);
    const sender = runtime.spawn((message: unknown, self: ProcessSelf) => self.send(pid, message));
    const senderExit = runtime.whenExited(sender);
    runtime.send(sender, 'from a process');
    expect(await senderExit).toBeInstanceOf(MailboxFullError);
    release();
    await until(() => handled.length === 2);
    expect(handled).toEqual(['block', 1]);
    await runtime.shutdown();
  });

  it('backpressure holds senders in order: sendAsync settles only once its message is in the mailbox', async () => {
    const { runtime, pid, handled, release } = blockedReceiver(2, 'backpressure');
    await settle();
    const admitted: number[] = [];
    const sends = [1, 2, 3, 4, 5].map((message) => runtime.sendAsync(pid, message).then(() => admitted.push(message)));
    runtime.send(pid, 6);
    await settle();
    expect(admitted).toEqual([1, 2]);
    expect(runtime.processInfo(pid)?.mailbox).toMatchObject({ length: 2, waiting: 4, dropped: 0 });
    release();
    await Promise.all(sends);
    await until(() => handled.length === 7);
    expect(admitted).toEqual([1, 2, 3, 4, 5]);
    expect(handled).toEqual(['block', 1, 2, 3, 4, 5, 6]);
    await runtime.shutdown();
  });

  it('keeps a linked process\'s EXIT behind its last messages waiting at a full backpressure mailbox', async () => {
    // Review finding: exit and down messages went straight into the mailbox, past messages that
    // were still waiting for room, so a process's EXIT arrived before its last words.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const { pid: receiver, handled, release } = blockedProcess(runtime, { capacity: 1, overflow: 'backpressure' }, { trapExits: true });
    await settle();
    runtime.send(receiver, 'filler'); // the mailbox is full from here on
    const sender = runtime.spawn((message: unknown, self: ProcessSelf) => {
      if (message !== 'go') return;
      self.link(receiver);
      self.send(receiver, 'last words');
      throw new Error('boom');
    });
    runtime.send(sender, 'go');
    await settle();
    release();
    await until(() => handled.length === 4);
    expect(handled.slice(1).map((message) => (isExitMessage(message) ? 'EXIT' : message))).toEqual(['filler', 'last words', 'EXIT']);
    await runtime.shutdown();
  });

  it('bounds the messages waiting at a full backpressure mailbox (default 10 × capacity): beyond it send throws', async () => {
    const { runtime, pid, letters, handled, release } = blockedReceiver(1, 'backpressure');
    await settle();
    runtime.send(pid, 0);
    for (let message = 1; message <= 10; message += 1) runtime.send(pid, message);
    expect(runtime.processInfo(pid)?.mailbox).toMatchObject({ length: 1, waiting: 10, maxWaiting: 10 });
    expect(() => runtime.send(pid, 11)).toThrow(MailboxFullError);
    await expect(runtime.sendAsync(pid, 12)).rejects.toBeInstanceOf(MailboxFullError);
    await expect(runtime.call(pid, 13)).rejects.toBeInstanceOf(MailboxFullError);
    let thrown = 0;
    for (let message = 0; message < 10_000; message += 1) {
      try {
        runtime.send(pid, message);
      } catch (error) {
        if (!(error instanceof MailboxFullError)) throw error;
        thrown += 1;
      }
    }
    expect(thrown).toBe(10_000);
    expect(runtime.processInfo(pid)?.mailbox.waiting).toBe(10);
    expect(letters).toEqual([]);
    release();
    await until(() => handled.length === 12, 'the waiting messages');
    expect(handled).toEqual(['block', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await runtime.shutdown();
  });

  it('takes the waiting bound as an option, counting waiting sendAsync calls and calls alike', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const gate = deferred();
    const pid = runtime.spawn(async () => gate.promise, { mailbox: { capacity: 2, overflow: 'backpressure', maxWaiting: 3 } });
    runtime.send(pid, 'blocks');
    await settle();
    runtime.send(pid, 1);
    runtime.send(pid, 2);
    const waiting = [runtime.sendAsync(pid, 3), runtime.call(pid, 4, { timeout: Number.POSITIVE_INFINITY }), runtime.sendAsync(pid, 5)];
    expect(runtime.processInfo(pid)?.mailbox).toMatchObject({ length: 2, waiting: 3, maxWaiting: 3 });
    expect(() => runtime.send(pid, 6)).toThrow(MailboxFullError);
    gate.resolve();
    await Promise.all(waiting);
    expect(() => runtime.spawn(() => undefined, { mailbox: { capacity: 1, overflow: 'backpressure', maxWaiting: 0 } })).toThrow(InvalidOptionError);
    expect(() => runtime.spawn(() => undefined, { mailbox: { capacity: 1, overflow: 'reject', maxWaiting: 5 } })).toThrow(InvalidOptionError);
    await runtime.shutdown();
  });

  it('settles waiting senders when the process exits, reporting their messages as dead letters', async () => {
    const { runtime, pid, letters, release } = blockedReceiver(1, 'backpressure');
    await settle();
    runtime.send(pid, 1);
    const waiting = runtime.sendAsync(pid, 2);
    runtime.exit(pid, 'kill');
    await expect(waiting).resolves.toBeUndefined();
    expect(letters).toMatchObject([{ message: 2, reason: 'noproc' }]);
    release();
    await runtime.shutdown();
  });

  it('never drops system messages: exit and down messages pass a full mailbox', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const gate = deferred();
    const handled: unknown[] = [];
    const watcher = runtime.spawn(
      async (message: unknown) => {
        handled.push(message);
        if (message === 'block') await gate.promise;
      },
      { mailbox: { capacity: 1, overflow: 'drop-newest' }, trapExits: true },
    );
    const victim = runtime.spawn((_message: unknown, self: ProcessSelf) => {
      self.link(watcher);
      self.monitor(watcher);
    });
    const watched = runtime.spawn(() => undefined);
    runtime.send(watcher, 'block');
    runtime.send(victim, 'link');
    await settle();
    runtime.send(watcher, 'fills the mailbox');
    runtime.monitor(watched, () => undefined);
    const watcherMonitors = runtime.spawn((_message: unknown, self: ProcessSelf) => void self.monitor(watched));
    runtime.send(watcherMonitors, 'go');
    await settle();
    runtime.exit(victim, 'crash');
    await settle();
    expect(runtime.processInfo(watcher)?.mailbox.length).toBe(2);
    gate.resolve();
    await until(() => handled.length === 3);
    expect(isExitMessage(handled[2])).toBe(true);
    expect(handled[2]).toMatchObject({ reason: 'crash' });
    expect(isDownMessage(handled[2])).toBe(false);
    await runtime.shutdown();
  });

  it('gives a lookalike of an exit message no place past the bound: drop-oldest drops it as it drops any message', async () => {
    // Review finding: the bound's exemption for exit and down messages went by the public
    // marker, so any sender could pin messages in a full mailbox (or get past a backpressure bound).
    const letters: DeadLetter[] = [];
    const runtime = createRuntime({ nodeId: 'node-a', onDeadLetter: (letter) => letters.push(letter) });
    const { pid, handled, release } = blockedProcess(runtime, { capacity: 2, overflow: 'drop-oldest' });
    await settle();
    const first = lookalikeExit(pid, 'forged 1');
    const second = lookalikeExit(pid, 'forged 2');
    runtime.send(pid, first);
    runtime.send(pid, second);
    runtime.send(pid, 'ordinary');
    expect(letters.map(({ message, reason }) => [message, reason])).toEqual([[first, 'overflow']]);
    release();
    await until(() => handled.length === 3);
    expect(handled).toEqual(['block', second, 'ordinary']);
    await runtime.shutdown();
  });

  it('nor to a genuine exit message passed on from another mailbox', async () => {
    // A process that traps exits makes genuine exit messages about itself at will, with
    // exit(self, reason): passed on, they are ordinary messages in the mailbox they reach.
    const letters: DeadLetter[] = [];
    const runtime = createRuntime({ nodeId: 'node-a', onDeadLetter: (letter) => letters.push(letter) });
    const { pid, handled, release } = blockedProcess(runtime, { capacity: 2, overflow: 'drop-oldest' });
    const relayer = runtime.spawn(
      (message: unknown, self: ProcessSelf) => {
        if (message === 'mint') self.exit(self.pid, 'minted');
        else self.send(pid, message);
      },
      { trapExits: true },
    );
    runtime.send(relayer, 'mint');
    runtime.send(relayer, 'mint');
    await until(() => runtime.processInfo(pid)?.mailbox.length === 2, 'the passed-on exits');
    runtime.send(pid, 'ordinary');
    expect(letters).toHaveLength(1);
    expect(isExitMessage(letters[0]!.message)).toBe(true);
    release();
    await until(() => handled.length === 3);
    expect(handled[2]).toBe('ordinary');
    await runtime.shutdown();
  });

  describe.each(['reject', 'drop-newest', 'drop-oldest', 'backpressure'] as const)('with overflow %s', (overflow) => {
    it('never drops an exit or a down message, whichever arrives first, however many messages follow', async () => {
      const runtime = createRuntime({ nodeId: 'node-a' });
      const gate = deferred();
      const handled: unknown[] = [];
      const watcher = runtime.spawn(
        async (message: unknown, self: ProcessSelf) => {
          if (typeof message === 'object' && message !== null && 'link' in message) return self.link((message as { link: Pid }).link);
          if (typeof message === 'object' && message !== null && 'monitor' in message) return void self.monitor((message as { monitor: Pid }).monitor);
          handled.push(message);
          if (message === 'block') await gate.promise;
          return undefined;
        },
        { mailbox: { capacity: 1, overflow }, trapExits: true },
      );
      const linked = runtime.spawn(() => undefined);
      const monitored = runtime.spawn(() => undefined);
      // One at a time: the mailbox holds one message.
      for (const setup of [{ link: linked }, { monitor: monitored }, 'block']) {
        runtime.send(watcher, setup);
        await settle();
      }
      runtime.send(watcher, 'fills the mailbox');
      // One order for the system messages, then the other: each is the oldest at some drop.
      const [first, second] = overflow === 'drop-oldest' || overflow === 'reject' ? [linked, monitored] : [monitored, linked];
      runtime.exit(first, 'first gone');
      runtime.exit(second, 'second gone');
      await settle();
      for (const late of ['late 1', 'late 2', 'late 3']) {
        try {
          runtime.send(watcher, late);
        } catch (error) {
          expect(overflow).toBe('reject');
          expect(error).toBeInstanceOf(MailboxFullError);
        }
      }
      gate.resolve();
      await until(() => handled.filter((message) => isExitMessage(message) || isDownMessage(message)).length === 2, 'both system messages');
      await settle();
      const exits = handled.filter(isExitMessage);
      const downs = handled.filter(isDownMessage);
      expect(exits).toHaveLength(1);
      expect(exits[0]!.from.equals(linked)).toBe(true);
      expect(downs).toHaveLength(1);
      expect(downs[0]!.pid.equals(monitored)).toBe(true);
      const expected: Record<typeof overflow, string[]> = {
        reject: ['block', 'fills the mailbox'],
        'drop-newest': ['block', 'fills the mailbox'],
        'drop-oldest': ['block', 'late 3'],
        backpressure: ['block', 'fills the mailbox', 'late 1', 'late 2', 'late 3'],
      };
      await until(() => handled.filter((message) => typeof message === 'string').length === expected[overflow].length, 'the plain messages');
      expect(handled.filter((message) => typeof message === 'string')).toEqual(expected[overflow]);
      await runtime.shutdown();
    });
  });

  it('makes the length and the age of the oldest message observable', async () => {
    const { simulation, runtime } = simulatedRuntime();
    const gate = deferred();
    const pid = runtime.spawn(async () => gate.promise);
    runtime.send(pid, 'blocks');
    await settle();
    expect(runtime.processInfo(pid)?.mailbox).toMatchObject({ length: 0, oldestAgeMs: 0 });
    runtime.send(pid, 'first');
    await simulation.runForAsync(30);
    runtime.send(pid, 'second');
    await simulation.runForAsync(20);
    expect(runtime.processInfo(pid)?.mailbox).toMatchObject({ length: 2, oldestAgeMs: 50 });
    gate.resolve();
    await settle();
    expect(runtime.processInfo(pid)?.mailbox).toMatchObject({ length: 0, oldestAgeMs: 0 });
    await runtime.shutdown();
  });

  it('validates mailbox options', () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    expect(() => runtime.spawn(() => undefined, { mailbox: { capacity: 0 } })).toThrow(InvalidOptionError);
    expect(() => runtime.spawn(() => undefined, { mailbox: { capacity: 1.5 } })).toThrow(InvalidOptionError);
    expect(() => runtime.spawn(() => undefined, { mailbox: { overflow: 'explode' as OverflowPolicy } })).toThrow(InvalidOptionError);
    return runtime.shutdown();
  });
});

describe('ordering per sender (property)', () => {
  it('delivers each sender’s messages in the order sent, whatever the policy, interleaving and handler timing', async () => {
    const policies: readonly (OverflowPolicy | 'unbounded')[] = ['unbounded', 'drop-oldest', 'drop-newest', 'backpressure'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...policies),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 20 })), { minLength: 1, maxLength: 12 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
        async (policy, capacity, bursts, asyncPattern) => {
          const runtime = createRuntime({ nodeId: 'node-a', scheduling: { sliceMessages: 7, processMessages: 3 } });
          const received: [number, number][] = [];
          let handledCount = 0;
          const receiver = runtime.spawn(
            async (message: unknown) => {
              const pair = message as [number, number];
              received.push(pair);
              const slow = asyncPattern[handledCount++ % asyncPattern.length]!;
              if (slow) await Promise.resolve();
            },
            policy === 'unbounded'
              ? {}
              : // The wait at a backpressure mailbox is bounded by default; this property is about order, not that bound.
                { mailbox: { capacity, overflow: policy, ...(policy === 'backpressure' ? { maxWaiting: Number.POSITIVE_INFINITY } : {}) } },
          );
          const counters = [0, 0, 0, 0];
          const senders = counters.map((_, senderIndex) =>
            runtime.spawn((message: unknown, self: ProcessSelf) => {
              for (let index = 0; index < (message as number); index += 1) self.send(receiver, [senderIndex, counters[senderIndex]!++]);
            }),
          );
          for (const [sender, count] of bursts) runtime.send(senders[sender]!, count);
          const total = bursts.reduce((sum, [, count]) => sum + count, 0);
          const idle = (pid: Pid): boolean => {
            const info = runtime.processInfo(pid);
            return info !== undefined && info.status === 'waiting' && info.mailbox.length === 0 && info.mailbox.waiting === 0;
          };
          await until(() => idle(receiver) && senders.every(idle), 'every process to be idle');
          for (let sender = 0; sender < 4; sender += 1) {
            const sequence = received.filter(([from]) => from === sender).map(([, index]) => index);
            for (let index = 1; index < sequence.length; index += 1) expect(sequence[index]!).toBeGreaterThan(sequence[index - 1]!);
          }
          if (policy === 'unbounded' || policy === 'backpressure') expect(received).toHaveLength(total);
          await runtime.shutdown();
        },
      ),
      { numRuns: 60 },
    );
  });
});
