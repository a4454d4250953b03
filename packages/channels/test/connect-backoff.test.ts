// connect() while the link to a peer is being dialled or waits out its reconnect backoff joins
// that attempt. Review finding: a caller that calls connect() again on every connection-error
// (a common pattern) was dialled at once each time, because the error was reported before the
// backoff's timer was set, so it skipped the exponential backoff and hammered an address that
// refuses. The dials are counted on real sockets while the transport runs on a clock that moves
// only when the test says so: without the clock moving, no backoff delay ever ends.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import type { Scheduler, Timer } from '@foundation/core';
import { defaultLocalConfig } from '../src/index';
import { closeNodes, link, startNode, waitFor } from './helpers';

afterEach(closeNodes);

const { timing } = defaultLocalConfig();
// Longer than the rounds below: the end of the grace period would end a dial under way, which
// is no failure to report, and a round would wait for an error that never comes.
const graceTiming = { peerDownGraceMs: 60_000 };

interface ManualScheduler extends Scheduler {
  /** Moves time forward by `ms`, running the timers that fall due on the way, in order. */
  advance(ms: number): void;
}

function manualScheduler(): ManualScheduler {
  let now = 0;
  const timers = new Set<{ at: number; every: number | undefined; callback: () => void }>();
  const add = (delayMs: number, every: number | undefined, callback: () => void): Timer => {
    const timer = { at: now + delayMs, every, callback };
    timers.add(timer);
    return { cancel: () => timers.delete(timer) };
  };
  return {
    now: () => 1_700_000_000_000 + now,
    monotonic: () => now,
    setTimer: (delayMs, callback) => add(delayMs, undefined, callback),
    setRepeatingTimer: (intervalMs, callback) => add(intervalMs, intervalMs, callback),
    advance(ms) {
      const until = now + ms;
      for (;;) {
        let next: { at: number; every: number | undefined; callback: () => void } | undefined;
        for (const timer of timers) if (timer.at <= until && (next === undefined || timer.at < next.at)) next = timer;
        if (next === undefined) break;
        now = next.at;
        if (next.every === undefined) timers.delete(next);
        else next.at += next.every;
        next.callback();
      }
      now = until;
    },
  };
}

/** A TCP server that counts the connections it gets and closes each at once, before any upgrade. */
async function refusingServer(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('connect() joins a dial under way or a reconnect waiting for its backoff', () => {
  it('a connection-error listener that calls connect(nodeId) again dials no sooner than the backoff: one dial per delay that ends', async () => {
    const server = await refusingServer();
    try {
      const clock = manualScheduler();
      const a = await startNode('node-a', { clock, timing: graceTiming, addresses: { 'node-b': server.url } });
      // What the listener's connect() started at once: a dial shows as a handshake in progress.
      const dialsFromListener: number[] = [];
      a.on('connection-error', () => {
        a.connect('node-b');
        dialsFromListener.push(a.stats().handshakesInProgress);
      });
      a.connect('node-b');
      for (let round = 1; round <= 4; round += 1) {
        await waitFor(() => dialsFromListener.length >= round, 5_000, `connection-error ${round}`);
        expect(server.connections()).toBe(round);
        // Long enough for any delay the backoff draws (full jitter below reconnectMaxMs).
        clock.advance(timing.reconnectMaxMs);
      }
      await waitFor(() => dialsFromListener.length >= 5, 5_000, 'connection-error 5');
      expect(dialsFromListener).toEqual([0, 0, 0, 0, 0]);
      expect(server.connections()).toBe(5);
    } finally {
      await server.close();
    }
  });

  it('the same for connect(url) of a peer that was up and went away, where nothing listens any more', async () => {
    const clock = manualScheduler();
    const a = await startNode('node-a', { clock, timing: graceTiming });
    const b = await startNode('node-b');
    const url = b.address()!.url;
    await link(a, b, url);
    const dialsFromListener: number[] = [];
    a.on('connection-error', () => {
      a.connect(url);
      dialsFromListener.push(a.stats().handshakesInProgress);
    });
    await b.close();
    await waitFor(() => a.stats().peers[0]?.state === 'reconnecting', 5_000, 'the link to go down');
    for (let round = 1; round <= 4; round += 1) {
      clock.advance(timing.reconnectMaxMs);
      await waitFor(() => dialsFromListener.length >= round, 5_000, `connection-error ${round}`);
    }
    expect(dialsFromListener).toEqual([0, 0, 0, 0]);
  });

  it('connect(url) of an address never reached joins its probe the same way', async () => {
    const server = await refusingServer();
    try {
      const clock = manualScheduler();
      const a = await startNode('node-a', { clock });
      const dialsFromListener: number[] = [];
      a.on('connection-error', () => {
        a.connect(server.url);
        dialsFromListener.push(a.stats().handshakesInProgress);
      });
      a.connect(server.url);
      for (let round = 1; round <= 3; round += 1) {
        await waitFor(() => dialsFromListener.length >= round, 5_000, `connection-error ${round}`);
        expect(server.connections()).toBe(round);
        clock.advance(timing.reconnectMaxMs);
      }
      await waitFor(() => dialsFromListener.length >= 4, 5_000, 'connection-error 4');
      expect(dialsFromListener).toEqual([0, 0, 0, 0]);
      expect(server.connections()).toBe(4);
    } finally {
      await server.close();
    }
  });
});
