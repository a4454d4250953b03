// Three Raft nodes as real child processes on loopback (real sockets, real files with fsync).
// A client writes continuously; the leader is killed with SIGKILL and later restarted. No
// acknowledged write may be lost, a new leader must take over, and the restarted node must
// catch up — by snapshot, since the leader compacts its log meanwhile.
import { afterAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { ProcessCluster } from '../src/internal/process-cluster';
import type { Reply } from '../src/internal/process-cluster';

const entry = ['--import', 'tsx', join(__dirname, '../src/internal/node-main.ts')];
let cluster: ProcessCluster | undefined;

afterAll(async () => {
  await cluster?.stop();
});

async function until<T>(probe: () => Promise<T | null | undefined | false>, what: string, attempts = 400): Promise<T> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Writes through whichever node leads, following leader hints; resolves once acknowledged. */
async function write(c: ProcessCluster, key: string, value: number): Promise<void> {
  let target = (await c.leader()) ?? [...c.nodes.keys()][0]!;
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const node = c.nodes.get(target)!;
    const reply: Reply = node.process === null ? { ok: false } : await node.client.request({ op: 'put', key, value }, 2000);
    if (reply.ok) return;
    if (reply.leader) target = reply.leader;
    else {
      await new Promise((resolve) => setTimeout(resolve, 20));
      target = (await c.leader()) ?? target;
    }
  }
  throw new Error(`could not write ${key}`);
}

describe('three nodes as processes', () => {
  it('survive SIGKILL of the leader mid-stream without losing an acknowledged write, and the restarted node catches up by snapshot', async () => {
    cluster = await ProcessCluster.start({ ids: ['n1', 'n2', 'n3'], entry, snapshotEvery: 100 });
    const c = cluster;
    const first = await until(() => c.leader(), 'a leader');
    // Eight writers run concurrently, so writes are in flight when the leader dies.
    const acknowledged = new Map<string, number>();
    let next = 0;
    let stopAt = 400;
    const writer = async (): Promise<void> => {
      while (acknowledged.size < stopAt) {
        const value = next++;
        const key = `key-${value}`;
        await write(c, key, value);
        acknowledged.set(key, value);
      }
    };
    const writers = Array.from({ length: 8 }, () => writer());
    await until(async () => acknowledged.size >= 150, '150 acknowledged writes');
    // Writes go on for 250 more after the kill, whenever it lands, so that the new leader takes
    // two snapshots (every 100) past anything the killed node holds and compacts its log.
    stopAt = acknowledged.size + 250;
    await c.kill(first);
    const second = await until(async () => {
      const leader = await c.leader();
      return leader !== first ? leader : null;
    }, 'a new leader');
    expect(second).not.toBe(first);
    // The killed node's log ends at most a few entries past what the new leader held when it
    // took over (each writer has one write outstanding).
    const killedLogBound = (await c.status(second))!.lastIndex + 8;
    await Promise.all(writers);
    // How far the leader has compacted depends on when its snapshots ran (one at a time, each
    // after the previous file is durable): write on until its log starts past the killed
    // node's, so that catching up needs a snapshot.
    for (let extra = 0; (await c.status(second))!.snapshotIndex <= killedLogBound; extra += 1) {
      if (extra >= 1000) throw new Error('the leader never compacted past the killed node\'s log');
      await write(c, `extra-${extra}`, extra);
      acknowledged.set(`extra-${extra}`, extra);
    }
    stopAt = acknowledged.size;
    await c.launch(first);
    const leaderStatus = await c.status(second);
    await until(async () => {
      const status = await c.status(first);
      return status !== null && status.applied >= leaderStatus!.commit;
    }, 'the restarted node to catch up');
    const restarted = await c.status(first);
    expect(restarted!.stats.snapshotsInstalled).toBeGreaterThanOrEqual(1);
    // Every acknowledged write holds its value, read linearizably through the restarted node.
    const reader = c.nodes.get(first)!.client;
    for (const [key, value] of acknowledged) {
      const reply = await reader.request({ op: 'get', key }, 3000);
      expect({ key, ok: reply.ok, value: reply.result }).toEqual({ key, ok: true, value });
    }
  }, 120_000);
});
