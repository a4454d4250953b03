// The context carrier: every message is handled in the context it was sent in, whatever the
// run queue was doing when it got to it.
import { describe, expect, it } from '@jest/globals';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRuntime } from './runtime';
import type { ContextCarrier } from './options';

const storage = new AsyncLocalStorage<string>();
const carrier: ContextCarrier = {
  capture: () => storage.getStore(),
  run: (context, fn) => storage.run(context as string, fn),
};

describe('context carrier', () => {
  it('runs each message, cast and call in its sender’s context, even when queued behind others', async () => {
    const runtime = createRuntime({ nodeId: 'node-a', context: carrier });
    const seen: string[] = [];
    const pid = runtime.spawn({
      handleMessage: (message) => void seen.push(`${String(message)}:${storage.getStore() ?? '-'}`),
      handleCast: (message) => void seen.push(`${String(message)}:${storage.getStore() ?? '-'}`),
      handleCall: () => storage.getStore() ?? '-',
    });
    // Queued back to back in three contexts, before the process runs any of them.
    storage.run('request-1', () => runtime.send(pid, 'm1'));
    storage.run('request-2', () => runtime.cast(pid, 'c2'));
    runtime.send(pid, 'm3');
    const replies = await Promise.all([storage.run('request-4', () => runtime.call(pid, 'which')), runtime.call(pid, 'which')]);
    expect(seen).toEqual(['m1:request-1', 'c2:request-2', 'm3:-']);
    expect(replies).toEqual(['request-4', '-']);
    await runtime.shutdown();
  });

  it('keeps the context through an async handler and for what the handler sends on', async () => {
    const runtime = createRuntime({ nodeId: 'node-a', context: carrier });
    const seen: string[] = [];
    const last = runtime.spawn((message) => void seen.push(`${String(message)}:${storage.getStore() ?? '-'}`));
    const relay = runtime.spawn({
      async handleMessage(message, self) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        self.send(last, `${String(message)} relayed`);
      },
    });
    storage.run('request-1', () => runtime.send(relay, 'a'));
    storage.run('request-2', () => runtime.send(relay, 'b'));
    // Until both arrive (a fixed 30 ms wait missed the second on a loaded machine).
    while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen).toEqual(['a relayed:request-1', 'b relayed:request-2']);
    await runtime.shutdown();
  });

  it('carries the context of a sender that waited for room in a backpressure mailbox', async () => {
    const runtime = createRuntime({ nodeId: 'node-a', context: carrier });
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const pid = runtime.spawn(
      {
        async handleMessage(message) {
          if (message === 'block') await gate;
          else seen.push(`${String(message)}:${storage.getStore() ?? '-'}`);
        },
      },
      { mailbox: { capacity: 1, overflow: 'backpressure' } },
    );
    runtime.send(pid, 'block');
    await new Promise((resolve) => setImmediate(resolve));
    runtime.send(pid, 'fills');
    const waited = storage.run('request-9', () => runtime.sendAsync(pid, 'waited'));
    release();
    await waited;
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual(['fills:-', 'waited:request-9']);
    await runtime.shutdown();
  });
});
