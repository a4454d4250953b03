// What a behavior can reach: exactly the documented `self` API, and an opaque `from`. The
// runtime's internals (the process table, mailboxes, other processes' records, the promise
// behind a call) stay out of reach, so a behavior cannot corrupt them by accident or on purpose.
import { describe, expect, it } from '@jest/globals';
import { DOCUMENTED_SELF, reachable, settle } from '../../test/support';
import { InvalidOptionError } from '../errors/invalid-option-error';
import { createRuntime } from './runtime';
import { NO_REPLY } from './types';
import type { ProcessSelf, ReplyTo } from './types';

describe('what a behavior can reach', () => {
  it('gives every callback a self with exactly the documented API', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const selves: ProcessSelf[] = [];
    const pid = runtime.spawn({
      init: (_args: unknown, self: ProcessSelf) => void selves.push(self),
      handleMessage: (_message: unknown, self: ProcessSelf) => void selves.push(self),
      handleCast: (_message: unknown, self: ProcessSelf) => void selves.push(self),
      handleCall: (_request: unknown, self: ProcessSelf) => void selves.push(self),
      terminate: (_reason: unknown, self: ProcessSelf) => void selves.push(self),
    });
    const fnPid = runtime.spawn((_message: unknown, self: ProcessSelf) => void selves.push(self));
    runtime.send(pid, 'message');
    runtime.cast(pid, 'cast');
    await runtime.call(pid, 'call');
    runtime.send(fnPid, 'message');
    await settle();
    runtime.exit(pid, 'shutdown');
    await runtime.whenExited(pid);
    expect(selves).toHaveLength(6);
    for (const self of selves) {
      expect(reachable(self)).toEqual(DOCUMENTED_SELF);
      for (const internal of ['runtime', 'mailbox', 'capacity', 'status', 'links', 'behavior']) expect(internal in self).toBe(false);
    }
    expect(selves[0]!.pid.equals(pid)).toBe(true);
    await runtime.shutdown();
  });

  it('keeps state, name and signal working through the facade', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    let seen: ProcessSelf<{ count: number }> | undefined;
    const pid = runtime.spawn(
      {
        init: () => ({ count: 1 }),
        handleCall(_request: unknown, self: ProcessSelf<{ count: number }>) {
          seen = self;
          self.state = { count: self.state.count + 1 };
          return self.state.count;
        },
      },
      { name: 'counter' },
    );
    expect(await runtime.call(pid, 'bump')).toBe(2);
    expect(await runtime.call(pid, 'bump')).toBe(3);
    expect(seen!.name).toBe('counter');
    expect(seen!.node).toBe('node-a');
    expect(seen!.signal.aborted).toBe(false);
    const exited = runtime.whenExited(pid);
    runtime.exit(pid, 'shutdown');
    await exited;
    expect(seen!.signal.aborted).toBe(true);
    await runtime.shutdown();
  });

  it('hands handleCall an opaque from: only the caller, and self.reply and runtime.reply accept nothing else', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const froms: ReplyTo[] = [];
    const server = runtime.spawn({
      handleCall(_request: unknown, _self: ProcessSelf, from: ReplyTo) {
        froms.push(from);
        return NO_REPLY;
      },
    });
    const client = runtime.spawn({ handleCall: (request: unknown, self: ProcessSelf) => self.call(server, request) });
    const fromOutside = runtime.call(server, 'outside');
    const fromClient = runtime.call(client, 'inside');
    await settle();
    expect(froms).toHaveLength(2);
    for (const from of froms) {
      expect(reachable(from)).toEqual(['caller']);
      for (const internal of ['resolve', 'reject', 'request', 'holder', 'cancelled']) expect(internal in from).toBe(false);
    }
    expect(froms[0]!.caller).toBeUndefined();
    expect(froms[1]!.caller?.equals(client)).toBe(true);
    expect(() => runtime.reply({ caller: undefined }, 'forged')).toThrow(InvalidOptionError);
    runtime.reply(froms[0]!, 'first');
    runtime.reply(froms[1]!, 'second');
    expect(await fromOutside).toBe('first');
    expect(await fromClient).toBe('second');
    await runtime.shutdown();
  });
});
