// The partition guard against a recording transport: which links it closes, which it refuses
// when they come back, and that it asks for them again when the cut ends.
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { createPartitionGuard } from '../src/node/partition';
import type { Lifecycle, RosterEntry } from '../src/protocol';

const roster: RosterEntry[] = ['alpha', 'beta', 'gamma'].map((name, index) => ({ name, id: `${name}@127.0.0.1:${7001 + index}`, httpUrl: `http://127.0.0.1:${8001 + index}`, voter: true }));
const [alpha, beta, gamma] = roster as [RosterEntry, RosterEntry, RosterEntry];

function lifecycle(partitioned: Partial<Record<string, number>>): Lifecycle[] {
  return roster.map((entry) => ({ name: entry.name, state: 'running', pid: 1, restarts: 0, killedAt: null, restartAt: null, partitionedUntil: partitioned[entry.name] ?? null }));
}

function recordingTransport() {
  const calls: string[] = [];
  const handlers: ((peer: string) => void)[] = [];
  return {
    calls,
    peerUp: (peer: string) => handlers.forEach((handler) => handler(peer)),
    transport: {
      connect: (peer: string) => void calls.push(`connect ${peer}`),
      disconnect: (peer: string) => void calls.push(`disconnect ${peer}`),
      peers: () => [],
      on: (_event: string, handler: (peer: string) => void) => {
        handlers.push(handler);
        return () => handlers.splice(handlers.indexOf(handler), 1);
      },
    } as never,
  };
}

describe('partition guard', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('cuts the partitioned node off from every other node, refuses reconnections, and reconnects when the cut ends', () => {
    const { calls, peerUp, transport } = recordingTransport();
    const guard = createPartitionGuard(transport, beta, roster);
    guard.update(lifecycle({ beta: 1_005_000 }));
    expect(calls).toEqual([`disconnect ${alpha.id}`, `disconnect ${gamma.id}`]);
    expect(guard.cutOff().sort()).toEqual([alpha.id, gamma.id]);

    calls.length = 0;
    peerUp(alpha.id);
    expect(calls).toEqual([`disconnect ${alpha.id}`]);

    calls.length = 0;
    jest.advanceTimersByTime(5_000);
    expect(calls.sort()).toEqual([`connect ${alpha.id}`, `connect ${gamma.id}`]);
    expect(guard.cutOff()).toEqual([]);
    calls.length = 0;
    peerUp(alpha.id);
    expect(calls).toEqual([]);
    guard.close();
  });

  it('on the other nodes, cuts only the link to the partitioned node', () => {
    const { calls, peerUp, transport } = recordingTransport();
    const guard = createPartitionGuard(transport, alpha, roster);
    guard.update(lifecycle({ gamma: 1_003_000 }));
    expect(calls).toEqual([`disconnect ${gamma.id}`]);
    calls.length = 0;
    peerUp(beta.id);
    peerUp(gamma.id);
    expect(calls).toEqual([`disconnect ${gamma.id}`]);
    // The same announcement again (every lifecycle update repeats it) does not cut again.
    calls.length = 0;
    guard.update(lifecycle({ gamma: 1_003_000 }));
    expect(calls).toEqual([]);
    guard.close();
  });

  it('ignores partitions that have already ended', () => {
    const { calls, transport } = recordingTransport();
    const guard = createPartitionGuard(transport, alpha, roster);
    guard.update(lifecycle({ beta: 999_000 }));
    expect(calls).toEqual([]);
    guard.close();
  });
});
