// A startNode that fails part-way lets go of everything it had started: the port, and the timers
// of every part (read on an injected clock that counts the repeating timers still running).
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSystemClock } from '@foundation/core';
import type { Scheduler, Timer } from '@foundation/core';
import { startNode } from '../src/index';
import { freePort } from '../src/options';

const root = mkdtempSync(join(tmpdir(), 'foundation-start-failure-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The system clock, counting the repeating timers set and not cancelled. */
function countingClock(): { clock: Scheduler; repeating: () => number } {
  const system = createSystemClock({ keepAlive: false });
  const running = new Set<Timer>();
  return {
    clock: {
      now: () => system.now(),
      monotonic: () => system.monotonic(),
      setTimer: (delayMs, callback) => system.setTimer(delayMs, callback),
      setRepeatingTimer(intervalMs, callback) {
        const timer = system.setRepeatingTimer(intervalMs, callback);
        const counted: Timer = {
          cancel() {
            running.delete(counted);
            timer.cancel();
          },
        };
        running.add(counted);
        return counted;
      },
    },
    repeating: () => running.size,
  };
}

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('startNode failing part-way', () => {
  it('on a port already in use: rejects with the listen error and leaves no timer running', async () => {
    const port = await freePort('127.0.0.1');
    const taken = await listenOn(port);
    try {
      const { clock, repeating } = countingClock();
      const outcome = await startNode({ name: `busy@127.0.0.1:${port}`, timing: 'local', clock, dataDir: join(root, 'busy') }).catch((error: unknown) => error);
      expect(outcome).toMatchObject({ code: 'EADDRINUSE' });
      // The transport's heartbeat ran on, every 100 ms, for as long as the process lived.
      expect(repeating()).toBe(0);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
