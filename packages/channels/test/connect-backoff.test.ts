// connect() while the link to a peer is being dialled or waits out its reconnect backoff joins
// that attempt. Review finding: a caller that calls connect() again on every connection-error
// (a common pattern) was dialled at once each time, because the error was reported before the
// backoff's timer was set, so it skipped the exponential backoff and hammered an address that
// refuses. The dials are counted on real sockets while the transport runs on a clock that moves
// only when the test says so: without the clock moving, no backoff delay ever ends.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { BaseRandom } from '@foundation/core';
import type { Random, Scheduler, Timer } from '@foundation/core';
import { CHANNELS_ERROR_CODES, ChannelsConfigError, ConnectionRefusedError, defaultLocalConfig } from '../src/index';
import type { Transport } from '../src/index';
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

/** Draws 0.5 every time: each full-jitter delay is half its ceiling, so the schedule is known. */
class HalfRandom extends BaseRandom {
  uint32(): number {
    return 2 ** 31;
  }

  fork(): Random {
    return this;
  }
}

/**
 * When the attempts of a link that starts at time 0 fall due under HalfRandom: the first at once,
 * then one at the end of each backoff delay (full jitter of min(max, initial · 2^n)).
 */
function attemptTimes(until: number): number[] {
  const times = [0];
  for (let attempt = 0; ; attempt += 1) {
    const delay = 0.5 * Math.min(timing.reconnectMaxMs, timing.reconnectInitialMs * 2 ** attempt);
    const next = times[times.length - 1]! + delay;
    if (next > until) return times;
    times.push(next);
  }
}

/** A node's connection-error events and the number of its handler-error events. */
function watch(node: Transport): { errors: { target: string; error: Error }[]; handlerErrors: () => number } {
  const errors: { target: string; error: Error }[] = [];
  let handlerErrors = 0;
  node.on('handler-error', () => (handlerErrors += 1));
  node.on('connection-error', (event) => errors.push(event));
  return { errors, handlerErrors: () => handlerErrors };
}

/**
 * Far more events than any test here expects: past it a listener stops calling the transport, so
 * that a connect() that reports from within itself fails the test by its count instead of
 * recursing until the stack overflows.
 */
const EVENT_CAP = 1_000;

// Review finding: connect(nodeId) for a node whose address nobody knows reported
// connection-error from inside connect and forgot the peer, so a listener that called connect
// again on every connection-error recursed until the stack overflowed (about 2,200 events from
// one call, which emit then turned into a handler-error). Now the link stays wanted, and the
// lookup is an attempt like a dial: tried again on the backoff schedule, reported once per
// attempt after the next one is timed, dialed as soon as it finds an address.
describe('connect(nodeId) with no address known looks it up again on the backoff schedule', () => {
  // What a connection-error listener does; how many connect() calls that is; whether it starts
  // the backoff over (a disconnect() forgets the link, and its next attempt is the first of a new one).
  const variants: [string, (node: Transport) => void, number, boolean][] = [
    ['calls connect() again', (node) => node.connect('node-b'), 1, false],
    [
      'calls connect() three times',
      (node) => {
        for (let call = 0; call < 3; call += 1) node.connect('node-b');
      },
      3,
      false,
    ],
    [
      'disconnects and connects again',
      (node) => {
        node.disconnect('node-b');
        node.connect('node-b');
      },
      1,
      true,
    ],
  ];

  it.each(variants)('a connection-error listener that %s: one error per attempt, none sooner than the backoff, no recursion', async (_name, onError, connects, startsOver) => {
    const clock = manualScheduler();
    let lookups = 0;
    const a = await startNode('node-a', {
      clock,
      random: new HalfRandom(),
      timing: graceTiming,
      resolveAddress: () => {
        lookups += 1;
        return undefined;
      },
    });
    const { errors, handlerErrors } = watch(a);
    a.on('connection-error', () => {
      if (errors.length < EVENT_CAP) onError(a);
    });
    a.connect('node-b');
    expect(errors.length).toBe(1);
    expect(errors[0]!.target).toBe('node-b');
    expect(errors[0]!.error).toBeInstanceOf(ConnectionRefusedError);
    expect(errors[0]!.error.message).toContain('no address known');
    for (let now = 1; now <= 2_000; now += 1) {
      clock.advance(1);
      const expected = startsOver ? 1 + Math.floor(now / (0.5 * timing.reconnectInitialMs)) : attemptTimes(now).length;
      expect([now, errors.length]).toEqual([now, expected]);
    }
    // The attempt's own lookup, and one for each connect() of the listener's.
    expect(lookups).toBe(errors.length * (1 + connects));
    expect(handlerErrors()).toBe(0);
  });

  it('dials as soon as an attempt finds the address, and a connect() before then joins the wait', async () => {
    const clock = manualScheduler();
    const b = await startNode('node-b');
    // The table behind resolveAddress, as a membership or gossip would fill it.
    const addresses = new Map<string, string>();
    const a = await startNode('node-a', { clock, random: new HalfRandom(), timing: graceTiming, resolveAddress: (peer) => addresses.get(peer) });
    const { errors, handlerErrors } = watch(a);
    a.on('connection-error', () => {
      if (errors.length < EVENT_CAP) a.connect('node-b');
    });
    a.connect('node-b');
    clock.advance(timing.reconnectInitialMs * 2);
    const failed = errors.length;
    expect(failed).toBe(attemptTimes(timing.reconnectInitialMs * 2).length);
    // The address becomes known: connect() joins the backoff delay under way instead of dialing
    // at once, and the attempt that ends it dials.
    addresses.set('node-b', b.address()!.url);
    a.connect('node-b');
    expect(a.stats().handshakesInProgress).toBe(0);
    expect(b.stats().acceptedConnections).toBe(0);
    clock.advance(timing.reconnectMaxMs);
    await waitFor(() => a.peers().includes('node-b') && b.peers().includes('node-a'), 5_000, 'the link to come up');
    expect(errors.length).toBe(failed);
    expect(handlerErrors()).toBe(0);
  });
});

// Review finding: connect(url) of an address never reached reported connection-error before it
// timed its next attempt, so a listener that called disconnect(url) and then connect(url) found
// nothing to join and dialed at once, on every failure: the backoff was skipped, the address
// hammered, and peer-down was reported for the URL again at each failure. Now the next attempt
// is timed first, and a connect() from the listener after a disconnect() starts a new backoff
// whose first attempt waits out its first delay, as for a node id.
describe('connect(url) of an address never reached, from a connection-error listener', () => {
  // What the listener does, and whether it starts the backoff over (see the node id variants).
  const variants: [string, (node: Transport, url: string) => void, boolean][] = [
    ['calls connect() again', (node, url) => node.connect(url), false],
    [
      'disconnects and connects again',
      (node, url) => {
        node.disconnect(url);
        node.connect(url);
      },
      true,
    ],
  ];

  it.each(variants)('a listener that %s: one dial per backoff delay, none at once, one peer-down', async (_name, onError, startsOver) => {
    const server = await refusingServer();
    try {
      const clock = manualScheduler();
      const a = await startNode('node-a', { clock, random: new HalfRandom() });
      const downs: string[] = [];
      a.on('peer-down', (peer) => downs.push(peer));
      // What the listener's calls started at once: a dial shows as a handshake in progress.
      const dialsFromListener: number[] = [];
      a.on('connection-error', () => {
        if (dialsFromListener.length < EVENT_CAP) onError(a, server.url);
        dialsFromListener.push(a.stats().handshakesInProgress);
      });
      a.connect(server.url);
      for (let round = 1; round <= 4; round += 1) {
        await waitFor(() => dialsFromListener.length >= round, 5_000, `connection-error ${round}`);
        expect([round, server.connections(), a.stats().handshakesInProgress]).toEqual([round, round, 0]);
        // Under HalfRandom the retry after failure n waits half of min(max, initial · 2^(n − 1)),
        // the schedule of a node id's link; a backoff started over waits its first delay again
        // each time. Review finding: a URL's retries ran one doubling ahead, from twice
        // reconnectInitialMs.
        const delay = 0.5 * Math.min(timing.reconnectMaxMs, timing.reconnectInitialMs * 2 ** (startsOver ? 0 : round - 1));
        clock.advance(delay - 1);
        expect([round, a.stats().handshakesInProgress]).toEqual([round, 0]);
        clock.advance(1);
        expect([round, a.stats().handshakesInProgress]).toEqual([round, 1]);
      }
      await waitFor(() => dialsFromListener.length >= 5, 5_000, 'connection-error 5');
      expect(dialsFromListener).toEqual([0, 0, 0, 0, 0]);
      expect(server.connections()).toBe(5);
      // The address was reported down once, at its first failure: nothing came up in between.
      expect(downs).toEqual([server.url]);
    } finally {
      await server.close();
    }
  });

  it('a connect() after a disconnect() dials once: the retry the earlier failure timed dials no more', async () => {
    // disconnect() of a URL that never reached a node left its retry timed, and the retry
    // dialed beside the attempt of the next connect(): two schedules for one address from then on.
    const server = await refusingServer();
    try {
      const clock = manualScheduler();
      const a = await startNode('node-a', { clock, random: new HalfRandom() });
      const { errors } = watch(a);
      a.connect(server.url);
      await waitFor(() => errors.length >= 1, 5_000, 'connection-error 1');
      a.disconnect(server.url);
      a.connect(server.url);
      // The new connect() dials at once, and nothing else does while that dial is under way.
      expect(a.stats().handshakesInProgress).toBe(1);
      clock.advance(timing.reconnectMaxMs);
      expect(a.stats().handshakesInProgress).toBe(1);
      await waitFor(() => errors.length >= 2, 5_000, 'connection-error 2');
      expect(server.connections()).toBe(2);
    } finally {
      await server.close();
    }
  });
});

// Review finding: for a URL that had reached a node, connect(url) goes to that node's link, and
// from a connection-error listener after disconnect(url) it dialed at once (the link is new, and
// nothing told it that it came from the failure being reported): the backoff was skipped again.
describe('connect(url) of a peer that was up, from a connection-error listener after disconnect(url)', () => {
  it('starts a new backoff: one dial per first delay, none at once, one peer-down', async () => {
    const clock = manualScheduler();
    const a = await startNode('node-a', { clock, random: new HalfRandom(), timing: graceTiming });
    const b = await startNode('node-b');
    const url = b.address()!.url;
    await link(a, b, url);
    const downs: string[] = [];
    a.on('peer-down', (peer) => downs.push(peer));
    const dialsFromListener: number[] = [];
    a.on('connection-error', () => {
      if (dialsFromListener.length < EVENT_CAP) {
        a.disconnect(url);
        a.connect(url);
      }
      dialsFromListener.push(a.stats().handshakesInProgress);
    });
    await b.close();
    await waitFor(() => a.stats().peers[0]?.state === 'reconnecting', 5_000, 'the link to go down');
    clock.advance(timing.reconnectMaxMs);
    for (let round = 1; round <= 4; round += 1) {
      await waitFor(() => dialsFromListener.length >= round, 5_000, `connection-error ${round}`);
      expect([round, a.stats().handshakesInProgress]).toEqual([round, 0]);
      // Under HalfRandom a link's first backoff delay is half of reconnectInitialMs.
      clock.advance(0.5 * timing.reconnectInitialMs - 1);
      expect([round, a.stats().handshakesInProgress]).toEqual([round, 0]);
      clock.advance(1);
      expect([round, a.stats().handshakesInProgress]).toEqual([round, 1]);
    }
    await waitFor(() => dialsFromListener.length >= 5, 5_000, 'connection-error 5');
    expect(dialsFromListener).toEqual([0, 0, 0, 0, 0]);
    // The disconnect() of the session that was up, and nothing after it: no session came up since.
    expect(downs).toEqual(['node-b']);
  });
});

// Review finding: close() left the dials by URL still in their handshake listed as such, so
// each, ended by close() itself, was reported as a connection-error of a closed transport, and
// went past what close() waits for: close() finished only when its 500 ms timer ran out, on the
// transport's clock (here one that never moves, so never).
describe('close() while a dial by URL is in its handshake', () => {
  it('finishes once that dial is closed, and reports no connection-error for it', async () => {
    const silent = createServer(() => undefined); // accepts, never answers the upgrade
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const clock = manualScheduler();
      const a = await startNode('node-a', { clock });
      const { errors } = watch(a);
      a.connect(`ws://127.0.0.1:${(silent.address() as { port: number }).port}`);
      expect(a.stats().handshakesInProgress).toBe(1);
      let finished = false;
      void a.close().then(() => (finished = true));
      await waitFor(() => finished, 5_000, 'close() to finish');
      expect(errors).toEqual([]);
    } finally {
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

// Review finding: an address found for a node id went to ws unchecked. One it cannot dial (not
// a ws:// or wss:// URL, or not a URL at all: what a hostile member may gossip, or a typo in a
// table) made ws throw from the dial, and when a reconnect attempt found it, from a timer: an
// uncaught exception, which ends the process. And `addresses` was read with a plain index, so a
// node id named like a member of Object.prototype ('constructor', 'toString') found a function
// there instead of asking resolveAddress, which the dial took for its URL.
describe('an address that cannot be dialed', () => {
  it('counts as none: each attempt that finds one reports it and dials nothing, and the link comes up once the address is a URL', async () => {
    const clock = manualScheduler();
    const b = await startNode('node-b');
    const addresses = new Map<string, string>();
    const a = await startNode('node-a', { clock, random: new HalfRandom(), timing: graceTiming, resolveAddress: (peer) => addresses.get(peer) });
    const { errors, handlerErrors } = watch(a);
    a.connect('node-b'); // no address yet: the next attempts look it up again, from a timer
    addresses.set('node-b', 'ftp://node-b.example'); // learned later, and not one ws dials
    expect(() => clock.advance(timing.reconnectInitialMs * 2)).not.toThrow();
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.at(-1)!.error.message).toContain('not a ws:// or wss:// URL');
    expect(errors.at(-1)!.error.message).not.toContain('node-b.example'); // an address may hold credentials
    addresses.set('node-b', 'ws://[::1'); // not a URL at all
    expect(() => clock.advance(timing.reconnectMaxMs)).not.toThrow();
    expect(errors.at(-1)!.error.message).toContain('not a ws:// or wss:// URL');
    expect(a.stats().handshakesInProgress).toBe(0);
    addresses.set('node-b', b.address()!.url);
    clock.advance(timing.reconnectMaxMs);
    await waitFor(() => a.peers().includes('node-b') && b.peers().includes('node-a'), 5_000, 'the link to come up');
    expect(handlerErrors()).toBe(0);
  });

  it('a node id named like a member of Object.prototype is looked up in resolveAddress, not found in `addresses`', async () => {
    const b = await startNode('constructor');
    const a = await startNode('node-a', { addresses: { 'node-y': 'ws://127.0.0.1:1' }, resolveAddress: (peer) => (peer === 'constructor' ? b.address()!.url : undefined) });
    a.connect('constructor');
    await waitFor(() => a.peers().includes('constructor'), 5_000, 'the link to come up');
  });

  it('connect() of a URL that cannot be dialed throws ChannelsConfigError (5801) and keeps nothing', async () => {
    const b = await startNode('node-b');
    const a = await startNode('node-a');
    for (const url of ['ws://[::1', 'ws://[::1', 'wss://node-b.example/#fragment']) {
      // The same URL twice: the first call kept nothing that makes the second one pass quietly.
      let thrown: unknown;
      try {
        a.connect(url);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ChannelsConfigError);
      expect((thrown as ChannelsConfigError).code).toBe(CHANNELS_ERROR_CODES.invalidConfig);
    }
    expect(a.stats().handshakesInProgress).toBe(0);
    await link(a, b);
  });
});
