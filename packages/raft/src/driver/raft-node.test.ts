import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { FoundationError, isRetryable } from '@foundation/core';
import { createSimulation } from '@foundation/testkit';
import type { Simulation } from '@foundation/testkit';
import { RAFT_ERROR_CODES } from '../errors/codes';
import { createSimPersistence } from '../internal/sim-persistence';
import { createKvStateMachine } from '../kv/kv-state-machine';
import type { KvCommand, KvQuery, KvQueryResult, KvResult, KvStateMachine } from '../kv/kv-state-machine';
import { createFileStorage } from '../storage/file-storage';
import { createMemoryPersistence } from '../storage/persistence';
import type { PersistUpdate, RaftPersistence } from '../storage/persistence';
import { createRaftNode } from './raft-node';
import type { RaftNode, RaftNodeOptions, SnapshotRefusal } from './raft-node';

type KvNode = RaftNode<KvCommand, KvResult, KvQuery, KvQueryResult>;

interface Cluster {
  readonly simulation: Simulation;
  readonly nodes: Map<string, KvNode>;
  readonly machines: Map<string, KvStateMachine>;
  readonly sent: { from: string; to: string; type: string; index?: number | undefined; context?: string | undefined }[];
  leader(): string | undefined;
  settle(predicate: () => boolean, maxTime?: number): Promise<void>;
  /** Runs an operation to completion in simulated time. */
  run<T>(operation: () => Promise<T>, maxTime?: number): Promise<T>;
}

function cluster(
  ids: string[],
  overrides: Partial<RaftNodeOptions<KvCommand, KvResult, KvQuery, KvQueryResult>> & {
    peersOf?: (id: string) => string[];
    /** Options of node `id` alone, over the others (read at each start). */
    optionsOf?: (id: string) => Partial<RaftNodeOptions<KvCommand, KvResult, KvQuery, KvQueryResult>>;
  } = {},
  seed = 1,
): Cluster {
  const simulation = createSimulation({ seed, network: { latency: { min: 0.5, max: 2 } } });
  const nodes = new Map<string, KvNode>();
  const machines = new Map<string, KvStateMachine>();
  const sent: { from: string; to: string; type: string; index?: number | undefined; context?: string | undefined }[] = [];
  const add = (id: string): void => {
    simulation.addNode(id, {
      start: (context) => {
        const machine = createKvStateMachine();
        machines.set(id, machine);
        const transport = {
          send: (peer: string, channel: string, payload: unknown): boolean => {
            const { type, index, context: readContext } = payload as { type: string; index?: number; context?: string | null };
            sent.push({ from: id, to: peer, type, index, context: readContext ?? undefined });
            return context.transport.send(peer, channel, payload);
          },
          onMessage: context.transport.onMessage,
        };
        const node = createRaftNode({
          id,
          peers: overrides.peersOf?.(id) ?? ids,
          persistence: createSimPersistence(context.durable, context.clock, context.random),
          transport,
          stateMachine: machine,
          clock: context.clock,
          random: context.random,
          tickMs: 10,
          ...overrides,
          ...overrides.optionsOf?.(id),
        });
        nodes.set(id, node);
        void node.start();
      },
    });
  };
  for (const id of ids) add(id);
  const leader = (): string | undefined =>
    [...nodes.entries()].find(([id, node]) => {
      try {
        return simulation.node(id).up && node.status().role === 'leader';
      } catch {
        return false;
      }
    })?.[0];
  return {
    simulation,
    nodes,
    machines,
    sent,
    leader,
    settle: async (predicate, maxTime = 10_000) => {
      await simulation.runUntilAsync(predicate, { maxTime });
    },
    run: async <T>(operation: () => Promise<T>, maxTime = 10_000): Promise<T> => {
      let outcome: { value: T } | { error: unknown } | undefined;
      operation().then(
        (value) => {
          outcome = { value };
        },
        (error: unknown) => {
          outcome = { error };
        },
      );
      await simulation.runUntilAsync(() => outcome !== undefined, { maxTime });
      if ('error' in outcome!) throw outcome.error;
      return outcome!.value;
    },
  };
}

async function elected(c: Cluster): Promise<string> {
  await c.settle(() => c.leader() !== undefined);
  return c.leader()!;
}

/**
 * Elects a leader other than `avoided`: if it leads, it hands leadership to another voter
 * (thesis §3.10). campaign() on that voter would not do: the others heard from the leader within
 * an election timeout and ignore its votes (§4.2.3), and the leader's first append, often still
 * in flight when the election is won, turns it back into a follower.
 */
async function electedOtherThan(c: Cluster, avoided: string): Promise<string> {
  // (Seed 1 elects n1 first; seed 4 elects n3, so the tests that use this run under both.)
  const leader = await elected(c);
  if (leader !== avoided) return leader;
  const next = [...c.nodes.keys()].find((id) => id !== avoided)!;
  expect(c.nodes.get(leader)!.transferLeadership(next)).toBe(true);
  await c.settle(() => c.leader() === next);
  return next;
}

/** Replaces `id`'s persistence `save` with `save(update, original)` for the rest of the test. */
function interceptSave(c: Cluster, id: string, save: (update: PersistUpdate, original: RaftPersistence) => Promise<void>): void {
  const node = c.nodes.get(id)! as unknown as { options: { persistence: RaftPersistence } };
  const original = node.options.persistence;
  node.options.persistence = { ...original, save: (update: PersistUpdate) => save(update, original) };
}

/**
 * Holds every write of entries node `id` makes from now on, until `release` lets the held ones
 * through (in order) and stops holding.
 */
function holdEntryWrites(c: Cluster, id: string): { readonly held: readonly unknown[]; release(): void } {
  const held: (() => void)[] = [];
  let holding = true;
  interceptSave(c, id, (update, original) =>
    holding && update.entries.length > 0 ? new Promise<void>((resolve) => held.push(() => void original.save(update).then(resolve))) : original.save(update),
  );
  return {
    held,
    release() {
      holding = false;
      while (held.length > 0) held.shift()!();
    },
  };
}

/**
 * Makes the snapshot chunks node `from` sends to `to` cross a link of limited bandwidth: one at a
 * time, in order, each taking `chunkMs`, at most `queueLimit` waiting (beyond that the transport
 * refuses them, as the channels transport does with a full queue). Other messages go as before.
 */
function slowChunkLink(c: Cluster, from: string, to: string, chunkMs: number, queueLimit: number): void {
  type Transport = { send(peer: string, channel: string, payload: unknown): boolean };
  const node = c.nodes.get(from)! as unknown as { options: { transport: Transport }; clock: { monotonic(): number; setTimer(ms: number, run: () => void): unknown } };
  const original = node.options.transport;
  let busyUntil = 0;
  let waiting = 0;
  node.options.transport = {
    ...original,
    send(peer, channel, payload) {
      if (peer !== to || (payload as { type: string }).type !== 'snapshot-chunk') return original.send(peer, channel, payload);
      if (waiting >= queueLimit) return false;
      const now = node.clock.monotonic();
      busyUntil = Math.max(now, busyUntil) + chunkMs;
      waiting += 1;
      node.clock.setTimer(busyUntil - now, () => {
        waiting -= 1;
        original.send(peer, channel, payload);
      });
      return true;
    },
  };
}

/** What node `id` holds on its simulated disk: the snapshot's index, the entries after it and the hard state. */
function disk(c: Cluster, id: string): { snapshotIndex: number | undefined; lastIndex: number | undefined; term: number; commit: number } {
  const state = c.simulation.node(id).durable.get('raft-disk') as { snapshot: { meta: { index: number } } | null; entries: { index: number }[]; hardState: { term: number; commit: number } };
  return { snapshotIndex: state.snapshot?.meta.index, lastIndex: state.entries.at(-1)?.index, term: state.hardState.term, commit: state.hardState.commit };
}

function code(error: unknown): number | undefined {
  return FoundationError.is(error) ? error.code : undefined;
}

describe('createRaftNode', () => {
  it('a single node elects itself, applies proposals and answers linearizable reads', async () => {
    const c = cluster(['solo']);
    await elected(c);
    const node = c.nodes.get('solo')!;
    await expect(c.run(() => node.propose({ op: 'put', key: 'a', value: 1 }))).resolves.toEqual({ op: 'put', previous: null });
    await expect(c.run(() => node.propose({ op: 'cas', key: 'a', expected: 1, value: 2 }))).resolves.toEqual({ op: 'cas', ok: true, current: 2 });
    await expect(c.run(() => node.propose({ op: 'cas', key: 'a', expected: 1, value: 3 }))).resolves.toEqual({ op: 'cas', ok: false, current: 2 });
    await expect(c.run(() => node.read({ op: 'get', key: 'a' }))).resolves.toBe(2);
  });

  it("an entry holds its own bytes when the codec's encoding is a view of a larger buffer", async () => {
    // cbor-x, the default codec, encodes into one buffer shared by every encoder of the process
    // (channels' messages among them) and returns a view of it. A log keeps its entries until the
    // next snapshot: views would keep those shared buffers, mostly other encodings, alive.
    const shared = new Uint8Array(64 * 1024);
    let used = 0;
    const codec = {
      encode: (command: KvCommand): Uint8Array => {
        const bytes = new TextEncoder().encode(JSON.stringify(command));
        const view = shared.subarray(used, used + bytes.length);
        view.set(bytes);
        used += bytes.length;
        return view;
      },
      decode: (data: Uint8Array): KvCommand => JSON.parse(new TextDecoder().decode(data)) as KvCommand,
    };
    const c = cluster(['solo'], { codec });
    await elected(c);
    const saved: Uint8Array[] = [];
    interceptSave(c, 'solo', (update, original) => {
      for (const entry of update.entries) if (entry.kind === 'normal') saved.push(entry.data);
      return original.save(update);
    });
    const node = c.nodes.get('solo')!;
    await expect(c.run(() => node.propose({ op: 'put', key: 'a', value: 1 }))).resolves.toEqual({ op: 'put', previous: null });
    await expect(c.run(() => node.read({ op: 'get', key: 'a' }))).resolves.toBe(1);
    expect(saved).toHaveLength(1);
    expect(saved[0]!.buffer).not.toBe(shared.buffer);
    expect(saved[0]!.buffer.byteLength).toBe(saved[0]!.byteLength);
  });

  it('reads made in the same turn share one ReadIndex round, and each sees the writes before it', async () => {
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    await c.run(() => node.propose({ op: 'put', key: 'k', value: 1 }));
    const before = c.sent.length;
    const reads = Promise.all(Array.from({ length: 5 }, () => node.read({ op: 'get', key: 'k' })));
    await expect(c.run(() => reads)).resolves.toEqual([1, 1, 1, 1, 1]);
    const contexts = new Set(c.sent.slice(before).filter((message) => message.from === leader && message.type === 'heartbeat' && message.context !== undefined).map((message) => message.context));
    expect(contexts.size).toBe(1);
  });

  it('a follower refuses proposals with the leader hint and serves reads through the leader', async () => {
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    await c.settle(() => c.nodes.get(follower)!.status().leader === leader);
    const refusal = await c.run(() => c.nodes.get(follower)!.propose({ op: 'put', key: 'k', value: 'v' })).catch((error: unknown) => error);
    expect(code(refusal)).toBe(RAFT_ERROR_CODES.notLeader);
    expect((refusal as FoundationError).context).toMatchObject({ leaderHint: leader });
    await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'k', value: 'v' }));
    await expect(c.run(() => c.nodes.get(follower)!.read({ op: 'get', key: 'k' }))).resolves.toBe('v');
    for (const id of ['n1', 'n2', 'n3']) await c.settle(() => c.machines.get(id)!.entries().get('k') === 'v');
  });

  it('a follower acknowledges nothing until the entries it received are durable', async () => {
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'warm-up', value: 0 }));
    const [follower, other] = ['n1', 'n2', 'n3'].filter((id) => id !== leader) as [string, string];
    // The other follower is cut off, so the leader needs this follower's acknowledgement.
    c.simulation.network.isolate(other);
    const writes = holdEntryWrites(c, follower);
    const before = c.sent.length;
    let applied = false;
    const gatedIndex = c.nodes.get(leader)!.status().lastIndex + 1;
    void c.nodes.get(leader)!.propose({ op: 'put', key: 'gated', value: 1 }).then(() => {
      applied = true;
    });
    await c.simulation.runForAsync(40);
    expect(writes.held.length).toBe(1);
    const acknowledgements = (): number =>
      c.sent.slice(before).filter((message) => message.from === follower && message.type === 'append-response' && (message.index ?? 0) >= gatedIndex).length;
    expect(acknowledgements()).toBe(0);
    expect(applied).toBe(false);
    writes.release();
    await c.settle(() => applied);
    expect(acknowledgements()).toBeGreaterThan(0);
  });

  it("a leader applies an entry both followers stored without waiting for its own write (thesis §10.2.1)", async () => {
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'warm-up', value: 0 }));
    const writes = holdEntryWrites(c, leader);
    let result: unknown;
    void c.nodes.get(leader)!.propose({ op: 'put', key: 'early', value: 1 }).then((value) => {
      result = value;
    });
    await c.settle(() => result !== undefined, 1000);
    expect(result).toEqual({ op: 'put', previous: null });
    expect(writes.held.length).toBe(1); // the leader's own write of the entry is still held
    expect(c.machines.get(leader)!.entries().get('early')).toBe(1);
    writes.release();
    await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'after', value: 2 }));
  });

  it('stops a leader whose state machine throws while it applies ahead of its own write (review finding)', async () => {
    // Applied from kick() while the leader waited on its disk, the throw escaped into whoever
    // kicked (a message handler): the rest of the batch was never applied, no error was told,
    // and the node went on leading with a state its followers did not have.
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    await c.run(() => node.propose({ op: 'put', key: 'warm-up', value: 0 }));
    const machine = c.machines.get(leader)!;
    const apply = machine.apply.bind(machine);
    machine.apply = (command, index) => {
      if (command.op === 'put' && command.key === 'boom') throw new Error('apply failed');
      return apply(command, index);
    };
    const errors: unknown[] = [];
    node.on('error', (error) => errors.push(error));
    const writes = holdEntryWrites(c, leader);
    const outcomes: unknown[] = [];
    for (const key of ['boom', 'after']) {
      void node.propose({ op: 'put', key, value: 1 }).then(
        (value) => outcomes.push(value),
        (error: unknown) => outcomes.push(code(error)),
      );
    }
    await c.settle(() => errors.length > 0 && outcomes.length === 2, 3_000);
    expect(outcomes.every((outcome) => typeof outcome === 'number')).toBe(true); // both failed, neither timed out silently applied
    expect(c.machines.get(leader)!.entries().has('after')).toBe(false);
    writes.release();
  });

  it('a second stop() resolves only once the first has closed the storage (review finding)', async () => {
    // It returned at once, while the first still waited for the disk: a caller that then
    // reopened the files raced the close.
    const c = cluster(['n1']);
    const leader = await elected(c);
    const node = c.nodes.get(leader)! as unknown as { options: { persistence: RaftPersistence } } & KvNode;
    const original = node.options.persistence;
    let closed = false;
    node.options.persistence = { ...original, close: () => original.close().then(() => void (closed = true)) };
    const first = node.stop();
    let secondDone = false;
    const second = node.stop().then(() => (secondDone = true));
    await Promise.resolve();
    expect(secondDone).toBe(false);
    await c.run(() => Promise.all([first, second]));
    expect(closed).toBe(true);
  });

  it.each([1, 2])('seed=%d: start() after stop() touches no storage, and stop() during start() closes it only once loaded (review finding)', async (seed) => {
    // start() after stop() loaded the closed storage (a file storage opens, truncates and syncs
    // its log then) and resolved, leaving it open for good; stop() while start() was loading
    // closed the storage first, and the load then reopened it.
    const c = cluster(['n1'], {}, seed);
    await elected(c);
    const calls: string[] = [];
    const persistence = (name: string, loadMs: number): RaftPersistence => ({
      load: () => {
        calls.push(`${name} load`);
        return new Promise((resolve) =>
          c.simulation.clock.setTimer(loadMs, () => {
            calls.push(`${name} loaded`);
            resolve({ hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] });
          }),
        );
      },
      save: () => {
        calls.push(`${name} save`);
        return Promise.resolve();
      },
      saveSnapshot: () => {
        calls.push(`${name} saveSnapshot`);
        return Promise.resolve();
      },
      close: () => {
        calls.push(`${name} close`);
        return Promise.resolve();
      },
    });
    const make = (id: string, loadMs: number): KvNode =>
      createRaftNode({
        id,
        peers: [id],
        persistence: persistence(id, loadMs),
        transport: c.simulation.node('n1').transport,
        stateMachine: createKvStateMachine(),
        clock: c.simulation.clock,
        random: c.simulation.random,
      });
    const early = make('early', 0);
    await c.run(() => early.stop());
    const started = await c.run(() => early.start()).catch((error: unknown) => error);
    expect(code(started)).toBe(RAFT_ERROR_CODES.stopped);
    expect(calls).toEqual(['early close']);
    calls.length = 0;
    const during = make('during', 50);
    const starting = during.start();
    await c.simulation.runForAsync(10);
    await c.run(() => Promise.all([during.stop(), starting]));
    expect(calls).toEqual(['during load', 'during loaded', 'during close']);
  });

  it('refuses a command that encodes to no bytes or to more than followers accept (review finding)', async () => {
    // An empty entry is a leader's no-op, so an empty command was never applied; one over
    // maxEntryBytes was refused by every follower and wedged replication behind it.
    const c = cluster(['n1', 'n2', 'n3'], { limits: { maxEntryBytes: 1024 } });
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    const big = await node.propose({ op: 'put', key: 'big', value: 'x'.repeat(2_000) }).catch((error: unknown) => code(error));
    expect(big).toBe(RAFT_ERROR_CODES.dropped);
    await expect(c.run(() => node.propose({ op: 'put', key: 'small', value: 1 }))).resolves.toEqual({ op: 'put', previous: null });
    const codec = { encode: (command: unknown) => command as Uint8Array, decode: (bytes: Uint8Array) => bytes };
    const bytes = cluster(['m1'], { codec: codec as never });
    const single = await elected(bytes);
    const empty = await bytes.nodes.get(single)!.propose(new Uint8Array(0) as never).catch((error: unknown) => code(error));
    expect(empty).toBe(RAFT_ERROR_CODES.dropped);
  });

  it('refuses a key-value command or read whose key holds a lone surrogate, on every node alike (review finding)', async () => {
    // The log's CBOR writes a lone surrogate as U+FFFD: '\uD800' and '\uDC00' became one key in
    // the map, and a read with the key as given found nothing, on the leader as on the rest.
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    for (const id of [leader, follower]) {
      const node = c.nodes.get(id)!;
      for (const command of [
        { op: 'put', key: '\uD800', value: 'high' },
        { op: 'cas', key: 'a\uDC00', expected: null, value: 'low' },
        { op: 'delete', key: '\uDBFF' },
      ] as const) {
        const refused = await c.run(() => node.propose(command).then(() => null, (error: unknown) => error));
        expect(code(refused)).toBe(RAFT_ERROR_CODES.dropped);
        expect((refused as Error).message).toContain('lone surrogate');
      }
      const read = await c.run(() => node.read({ op: 'get', key: '\uDC00' }).then(() => null, (error: unknown) => error));
      expect(read).toBeInstanceOf(FoundationError);
      expect((read as Error).message).toContain('lone surrogate');
    }
    // A whole surrogate pair is a character like any other.
    const node = c.nodes.get(leader)!;
    await c.run(() => node.propose({ op: 'put', key: 'smile \u{1F600}', value: 1 }));
    await expect(c.run(() => node.read({ op: 'get', key: 'smile \u{1F600}' }))).resolves.toBe(1);
    await c.settle(() => ['n1', 'n2', 'n3'].every((id) => c.machines.get(id)!.entries().size === 1));
    for (const id of ['n1', 'n2', 'n3']) expect([...c.machines.get(id)!.entries().keys()]).toEqual(['smile \u{1F600}']);
  });

  it('marks a command refused for what it is as not to be retried, unlike one dropped by chance (review finding)', async () => {
    // The refusal said retryStrategy 'immediate': a caller retrying by isRetryable / retryDelay
    // (as @foundation/core offers) proposed the same refused command again at once, for good.
    const c = cluster(['n1', 'n2', 'n3'], { limits: { maxEntryBytes: 1024 } });
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    const refusals = [
      await node.propose({ op: 'put', key: '\uD800', value: 1 }).catch((error: unknown) => error),
      await node.propose({ op: 'put', key: 'big', value: 'x'.repeat(2_000) }).catch((error: unknown) => error),
    ];
    for (const refused of refusals) {
      expect(code(refused)).toBe(RAFT_ERROR_CODES.dropped);
      expect(isRetryable(refused)).toBe(false);
    }
    // A proposal dropped by a leadership transfer may well succeed when tried again.
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    expect(node.transferLeadership(follower)).toBe(true);
    const transferring = await node.propose({ op: 'put', key: 'k', value: 1 }).catch((error: unknown) => error);
    expect(code(transferring)).toBe(RAFT_ERROR_CODES.dropped);
    expect(isRetryable(transferring)).toBe(true);
  });

  it('refuses with DroppedError whatever checkCommand throws, also a value that has no text form (review finding)', async () => {
    // The reason was built with String(thrown), which itself throws for an object without a
    // prototype: propose failed with that TypeError, and what checkCommand threw was lost.
    const thrown = Object.create(null) as object;
    const c = cluster(['solo'], {
      stateMachine: {
        ...createKvStateMachine(),
        checkCommand: () => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point: a thrown value that is no Error
          throw thrown;
        },
      },
    });
    const node = c.nodes.get(await elected(c))!;
    const refused = await node.propose({ op: 'put', key: 'k', value: 1 }).catch((error: unknown) => error);
    expect(code(refused)).toBe(RAFT_ERROR_CODES.dropped);
    expect((refused as FoundationError).cause).toBe(thrown);
  });

  it('sends no append with more entries than limits.maxEntriesPerMessage, so a burst larger than it commits (review finding)', async () => {
    // The leader put as many entries in one append as its byte budget allowed, whatever the
    // count its followers accept: with the same limit on every node, a turn's burst above it went
    // out as one append that both followers refused, again at every retry, and the cluster
    // committed nothing more.
    const c = cluster(['n1', 'n2', 'n3'], { limits: { maxEntriesPerMessage: 100 } });
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    const burst = Promise.all(Array.from({ length: 250 }, (_, index) => node.propose({ op: 'put', key: `k${index}`, value: index })));
    await expect(c.run(() => burst)).resolves.toHaveLength(250);
    for (const id of ['n1', 'n2', 'n3']) expect(c.nodes.get(id)!.stats().invalidMessages).toBe(0);
    for (const id of ['n1', 'n2', 'n3']) await c.settle(() => c.machines.get(id)!.entries().size === 250);
  });

  it('with one follower cut off, a leader applies nothing until its own write is done', async () => {
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'warm-up', value: 0 }));
    c.simulation.network.isolate(['n1', 'n2', 'n3'].find((id) => id !== leader)!);
    const writes = holdEntryWrites(c, leader);
    let applied = false;
    void c.nodes.get(leader)!.propose({ op: 'put', key: 'gated', value: 1 }).then(() => {
      applied = true;
    });
    await c.simulation.runForAsync(100);
    expect(writes.held.length).toBe(1);
    expect(applied).toBe(false); // one follower's copy is not a quorum of three
    expect(c.machines.get(leader)!.entries().has('gated')).toBe(false);
    writes.release();
    await c.settle(() => applied);
  });

  it('keeps taking snapshots under a steady stream of proposals, while it applies ahead of its own writes', async () => {
    // Entries proposed while the leader's write is in flight can be committed by the followers
    // and applied before they reach the leader's log storage; a snapshot must still come.
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 50 });
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    let done = 0;
    const writer = async (id: number): Promise<void> => {
      for (let n = 0; n < 60; n += 1) {
        await node.propose({ op: 'put', key: `w${id}`, value: n });
        done += 1;
      }
    };
    for (let id = 0; id < 8; id += 1) void writer(id);
    await c.settle(() => done === 480, 60_000);
    expect(node.stats().snapshotsTaken).toBeGreaterThan(2);
    expect(node.status().snapshotIndex).toBeGreaterThan(300);
  });

  it('takes a snapshot of a state machine that serialises in pieces one piece per event, and a lagging node restores it', async () => {
    // A state machine's `snapshot()` runs in one go, holding up the node's heartbeats and appends
    // for as long as it takes (20–40 ms for the 27,000 keys of the benchmark's state, on each node
    // every `snapshotEvery` entries). The key-value machine gives pieces instead.
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 50 });
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    const lagging = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    c.simulation.crash(lagging);
    const machine = c.machines.get(leader)!;
    const original = machine.snapshotPieces!.bind(machine);
    const pieces: number[][] = [];
    machine.snapshotPieces = () => {
      const taken: number[] = [];
      pieces.push(taken);
      const iterator = original();
      return {
        next: () => {
          taken.push(c.simulation.stats().events);
          return iterator.next();
        },
      };
    };
    for (let n = 0; n < 5_000; n += 1) machine.apply({ op: 'put', key: `bulk${n}`, value: n }, 0); // 3 pieces of pairs
    for (let n = 0; n < 60; n += 1) await c.run(() => node.propose({ op: 'put', key: `k${n}`, value: n }));
    await c.settle(() => node.stats().snapshotsTaken > 0);
    // The header, three pieces of pairs, the end, and the call that finds no more: each in an
    // event of its own.
    expect(pieces[0]).toHaveLength(6);
    for (let index = 1; index < pieces[0]!.length; index += 1) expect(pieces[0]![index]!).toBeGreaterThan(pieces[0]![index - 1]!);
    c.simulation.restart(lagging);
    await c.settle(() => c.machines.get(lagging)?.entries().get('k59') === 59 && c.machines.get(lagging)!.entries().size === machine.entries().size, 30_000);
    expect(c.nodes.get(lagging)!.stats().snapshotsInstalled).toBeGreaterThan(0);
    expect(c.machines.get(lagging)!.entries().get('bulk4999')).toBe(4_999);
  });

  it('stops while a snapshot is being taken in pieces, giving up the rest', async () => {
    const c = cluster(['n1'], { snapshotEvery: 5 });
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    const machine = c.machines.get(leader)!;
    let asked = 0;
    machine.snapshotPieces = () => {
      asked += 1;
      // Never finishes: one piece after another.
      return { next: () => ({ done: false, value: new Uint8Array(1) }) };
    };
    for (let n = 0; n < 6; n += 1) await c.run(() => node.propose({ op: 'put', key: `k${n}`, value: n }));
    await c.simulation.runForAsync(50);
    expect(asked).toBe(1);
    await c.run(() => node.stop());
    expect(node.stats().snapshotsTaken).toBe(0);
  });

  it('applies committed entries and answers without waiting for a write that only moves the commit index', async () => {
    const held: (() => void)[] = [];
    let holding = false;
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'warm-up', value: 0 }));
    /** Writes in the order they reached the disk. */
    const written: PersistUpdate[] = [];
    interceptSave(c, leader, (update, original) => {
      const write = (): Promise<void> => {
        written.push(update);
        return original.save(update);
      };
      const commitOnly = update.entries.length === 0 && update.snapshot === undefined;
      if (!holding || !commitOnly) return write();
      return new Promise<void>((resolve) => held.push(() => void write().then(resolve)));
    });
    holding = true;
    await expect(c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'k', value: 1 }))).resolves.toEqual({ op: 'put', previous: null });
    expect(held.length).toBeGreaterThan(0); // the leader's commit-index write is still on its way
    // The next entry's write waits for it: writes reach the disk in the order they were made.
    const nextIndex = c.nodes.get(leader)!.status().lastIndex + 1;
    const next = c.nodes.get(leader)!.propose({ op: 'put', key: 'k', value: 2 });
    await c.simulation.runForAsync(40);
    const hasNext = (update: PersistUpdate): boolean => update.entries.some((entry) => entry.index === nextIndex);
    expect(written.some(hasNext)).toBe(false);
    holding = false;
    const commitWrites = held.length;
    while (held.length > 0) held.shift()!();
    await expect(c.run(() => next)).resolves.toEqual({ op: 'put', previous: 1 });
    // The followers' acknowledgements may commit it before the leader's own write is done.
    await c.settle(() => written.some(hasNext));
    const nextAt = written.findIndex(hasNext);
    expect(nextAt).toBeGreaterThanOrEqual(commitWrites);
    expect(written.slice(nextAt - commitWrites, nextAt).every((update) => update.entries.length === 0)).toBe(true);
  });

  it('times out a proposal a cut-off leader cannot commit, and drops it once another entry takes its place', async () => {
    const c = cluster(['n1', 'n2', 'n3'], { requestTimeoutMs: 60_000 });
    const old = await elected(c);
    c.simulation.network.isolate(old);
    const timedOut = await c.run(() => c.nodes.get(old)!.propose({ op: 'put', key: 'x', value: 'lost' }, { timeoutMs: 100 })).catch((error: unknown) => error);
    expect(code(timedOut)).toBe(RAFT_ERROR_CODES.timeout);
    let dropped: unknown;
    void c.nodes.get(old)!.propose({ op: 'put', key: 'x', value: 'also lost' }).catch((error: unknown) => {
      dropped = error;
    });
    await c.settle(() => c.leader() !== undefined && c.leader() !== old);
    const next = c.leader()!;
    c.simulation.network.heal();
    // The outcome is known once the position the proposal took is filled by other entries.
    for (let write = 0; write < 3; write += 1) await c.run(() => c.nodes.get(next)!.propose({ op: 'put', key: 'x', value: 'kept' }));
    await c.settle(() => dropped !== undefined);
    expect(code(dropped)).toBe(RAFT_ERROR_CODES.dropped);
    await c.settle(() => c.machines.get(old)!.entries().get('x') === 'kept');
  });

  it.each([1, 2, 3])('seed=%d: a read forwarded to a leader that lost its term fails once the follower is in a newer term (review finding)', async (seed) => {
    // The answer to a read forwarded in an older term is stale to the follower and ignored (or
    // never comes: the leader crashed), yet the read waited for its whole timeout: 5 s by
    // default for every read made on a follower just before a failover of about 100 ms.
    const c = cluster(['n1', 'n2', 'n3'], { requestTimeoutMs: 60_000 }, seed);
    const leader = await elected(c);
    await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'k', value: 1 }));
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    await c.settle(() => c.nodes.get(follower)!.status().leader === leader);
    const term = c.nodes.get(follower)!.status().term;
    let outcome: unknown;
    void c.nodes.get(follower)!.read({ op: 'get', key: 'k' }).then(
      (value) => (outcome = value),
      (error: unknown) => (outcome = error),
    );
    await Promise.resolve(); // forwarded
    c.simulation.crash(leader);
    await c.settle(() => c.nodes.get(follower)!.status().term > term, 5_000);
    await c.settle(() => outcome !== undefined, 1_000);
    expect(code(outcome)).toBe(RAFT_ERROR_CODES.dropped);
    // And the next read is served by the new leader.
    await c.settle(() => c.leader() !== undefined && c.nodes.get(follower)!.status().leader === c.leader());
    await expect(c.run(() => c.nodes.get(follower)!.read({ op: 'get', key: 'k' }))).resolves.toBe(1);
  });

  it('each proposal and read times out at its own deadline, whatever order they were made in', async () => {
    const c = cluster(['n1', 'n2', 'n3'], { requestTimeoutMs: 60_000 });
    const old = await elected(c);
    await c.run(() => c.nodes.get(old)!.propose({ op: 'put', key: 'x', value: 'kept' }));
    c.simulation.network.isolate(old);
    const node = c.nodes.get(old)!;
    const start = c.simulation.now();
    const endedAt = new Map<string, number>();
    const watch = (name: string, call: Promise<unknown>): void => {
      call.then(
        () => endedAt.set(name, -1),
        (error: unknown) => endedAt.set(name, code(error) === RAFT_ERROR_CODES.timeout ? c.simulation.now() - start : -2),
      );
    };
    watch('slow', node.propose({ op: 'put', key: 'x', value: 'slow' }, { timeoutMs: 900 }));
    watch('fast', node.propose({ op: 'put', key: 'x', value: 'fast' }, { timeoutMs: 100 }));
    // (A read must end before the cut-off leader steps down, which drops it.)
    watch('read', node.read({ op: 'get', key: 'x' }, { timeoutMs: 70 }));
    await c.simulation.runForAsync(50);
    watch('later', node.propose({ op: 'put', key: 'x', value: 'later' }, { timeoutMs: 100 }));
    await c.settle(() => endedAt.size === 4, 2_000);
    // Each ends within a millisecond of its deadline (the timer fires on the next millisecond).
    expect(endedAt.get('fast')).toBeGreaterThanOrEqual(100);
    expect(endedAt.get('fast')).toBeLessThan(102);
    expect(endedAt.get('later')).toBeGreaterThanOrEqual(150);
    expect(endedAt.get('later')).toBeLessThan(152);
    expect(endedAt.get('read')).toBeGreaterThanOrEqual(70);
    expect(endedAt.get('read')).toBeLessThan(72);
    expect(endedAt.get('slow')).toBeGreaterThanOrEqual(900);
    expect(endedAt.get('slow')).toBeLessThan(902);
  });

  it('adds a node as learner then voter, and removes one, through the API', async () => {
    const c = cluster(['n1', 'n2', 'n3'], { peersOf: (id) => (id === 'n4' ? [] : ['n1', 'n2', 'n3']) });
    const leader = await elected(c);
    await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'before', value: 1 }));
    const events: string[] = [];
    c.nodes.get(leader)!.on('membership-change', (membership) => events.push(`${membership.voters.join(',')}|${membership.learners.join(',')}`));
    c.simulation.addNode('n4', {
      start: (context) => {
        const machine = createKvStateMachine();
        c.machines.set('n4', machine);
        const node = createRaftNode({
          id: 'n4',
          peers: [],
          persistence: createSimPersistence(context.durable, context.clock, context.random),
          transport: context.transport,
          stateMachine: machine,
          clock: context.clock,
          random: context.random,
          tickMs: 10,
        });
        c.nodes.set('n4', node);
        void node.start();
      },
    });
    await expect(c.run(() => c.nodes.get(leader)!.addLearner('n4'))).resolves.toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n4'] });
    await c.settle(() => c.machines.get('n4')!.entries().get('before') === 1);
    const refusal = await c.run(() => c.nodes.get(leader)!.addLearner('n4')).catch((error: unknown) => error);
    expect(code(refusal)).toBe(RAFT_ERROR_CODES.membershipChange);
    await c.run(() => c.nodes.get(leader)!.addVoter('n4'));
    const victim = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    const after = await c.run(() => c.nodes.get(leader)!.removeMember(victim));
    expect(after.voters).not.toContain(victim);
    expect(after.voters).toContain('n4');
    expect(events.length).toBeGreaterThanOrEqual(3);
    await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'after', value: 2 }));
    await c.settle(() => c.machines.get('n4')!.entries().get('after') === 2);
  });

  it.each([1, 2, 3])('seed=%d: a follower does not hint at a leader it applied the removal of (review finding)', async (seed) => {
    // After the leader removed itself, each follower went on naming it in NotLeaderError until
    // its own election timeout ran out (100–200 ms here): clients were sent to a node that is
    // no longer a member and knows of no leader.
    const c = cluster(['n1', 'n2', 'n3'], {}, seed);
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    await c.run(() => node.propose({ op: 'put', key: 'k', value: 1 }));
    await c.run(() => node.removeMember(leader));
    const followers = ['n1', 'n2', 'n3'].filter((id) => id !== leader);
    await c.settle(() => followers.every((id) => !c.nodes.get(id)!.status().membership.voters.includes(leader)), 1_000);
    let refusals = 0;
    for (const id of followers) {
      const refusal = await c.nodes.get(id)!.propose({ op: 'put', key: 'k', value: 2 }).catch((error: unknown) => error);
      if (code(refusal) !== RAFT_ERROR_CODES.notLeader) continue; // it already leads
      refusals += 1;
      expect((refusal as FoundationError).context).toMatchObject({ nodeId: id });
      expect((refusal as FoundationError).context['leaderHint']).not.toBe(leader);
    }
    expect(refusals).toBeGreaterThan(0);
  });

  it.each([1, 2])('seed=%d: a membership change is refused with the true reason, on a new leader and beside a pending change (review finding)', async (seed) => {
    // A leader that had not applied the first entry of its term refused a change saying "another
    // membership change is still pending", when there was none to wait for.
    const c = cluster(['n1', 'n2', 'n3'], {}, seed);
    for (const learner of ['x1', 'x2']) c.simulation.addNode(learner); // reachable, never started
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    const early = await node.addLearner('x1').catch((error: unknown) => error);
    expect(code(early)).toBe(RAFT_ERROR_CODES.membershipChange);
    expect((early as FoundationError).context).toMatchObject({ pending: true });
    expect((early as FoundationError).message).not.toContain('another membership change');
    expect((early as FoundationError).message).toContain('first entry of its term');
    await c.run(() => node.propose({ op: 'put', key: 'k', value: 1 })); // its term's entries are applied now
    const first = node.addLearner('x1');
    const second = await node.addLearner('x2').catch((error: unknown) => error);
    expect(code(second)).toBe(RAFT_ERROR_CODES.membershipChange);
    expect((second as FoundationError).context).toMatchObject({ pending: true });
    expect((second as FoundationError).message).toContain('another membership change is still pending');
    await expect(c.run(() => first)).resolves.toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['x1'] });
  });

  it.each([1, 2, 3])('seed=%d: a node restarted with other peers before its first snapshot keeps the membership it started with (review finding)', async (seed) => {
    // `peers` is documented as ignored once the node has state on disk, but only a snapshot
    // carried the membership: before the first one (10,000 entries by default), a restart with
    // peers ['n1'] made n1 a cluster of one, which elected itself and acknowledged writes alone
    // while n2 led the same term.
    let restartPeers: string[] | null = null;
    const c = cluster(['n1', 'n2', 'n3'], { peersOf: (id) => (id === 'n1' && restartPeers !== null ? restartPeers : ['n1', 'n2', 'n3']) }, seed);
    const leader = await elected(c);
    for (let value = 0; value < 5; value += 1) await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'k', value }));
    c.simulation.crash('n1');
    restartPeers = ['n1'];
    c.simulation.restart('n1');
    c.simulation.network.isolate('n1');
    await c.simulation.runForAsync(1_000);
    const restarted = c.nodes.get('n1')!;
    expect(restarted.status().membership).toEqual({ voters: ['n1', 'n2', 'n3'], learners: [] });
    expect(restarted.status().role).not.toBe('leader');
    const refusal = await c.run(() => restarted.propose({ op: 'put', key: 'k', value: 'alone' })).catch((error: unknown) => error);
    expect(code(refusal)).toBe(RAFT_ERROR_CODES.notLeader);
    c.simulation.network.heal();
    await c.settle(() => c.machines.get('n1')!.entries().get('k') === 4);
    expect(restarted.stats().snapshotsTaken).toBe(0); // the bootstrap record is no snapshot of the state
  });

  it('catches a lagging follower up with a snapshot sent in acknowledged chunks', async () => {
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 20, snapshotChunkBytes: 64 });
    const leader = await elected(c);
    const lagging = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    c.simulation.network.isolate(lagging);
    for (let index = 0; index < 60; index += 1) await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: `key-${index}`, value: 'x'.repeat(20) }));
    expect(c.nodes.get(leader)!.stats().snapshotsTaken).toBeGreaterThan(0);
    c.simulation.network.heal();
    await c.settle(() => c.machines.get(lagging)!.entries().size === 60);
    expect(c.nodes.get(lagging)!.stats().snapshotsInstalled).toBe(1);
    const chunks = c.sent.filter((message) => message.to === lagging && message.type === 'snapshot-chunk').length;
    expect(chunks).toBeGreaterThan(10);
    expect(c.sent.filter((message) => message.from === lagging && message.type === 'snapshot-chunk-ack').length).toBe(chunks);
  });

  it('cuts its snapshot chunks to limits.maxChunkBytes when no chunk size is given, so nodes with that limit take them (review finding)', async () => {
    // The chunk size stayed at its 1 MiB default under a lower limit: with the same limits on
    // every node, each chunk of a snapshot above the limit was refused, at every resend, and the
    // follower that needed it never caught up.
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 20, limits: { maxChunkBytes: 256 } });
    const leader = await elected(c);
    const lagging = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    c.simulation.network.isolate(lagging);
    for (let index = 0; index < 60; index += 1) await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: `key-${index}`, value: 'x'.repeat(20) }));
    c.simulation.network.heal();
    await c.settle(() => c.machines.get(lagging)!.entries().size === 60);
    expect(c.nodes.get(lagging)!.stats()).toMatchObject({ snapshotsInstalled: 1, invalidMessages: 0 });
  });

  it.each([1, 2, 3])('seed=%d: a snapshot sent in chunks reaches a follower over a network that loses and reorders them (review finding)', async (seed) => {
    // A follower takes chunks in order only, and nothing was sent again: one chunk lost or
    // overtaken left the rest dropped unacknowledged until the transfer stalled (twenty election
    // timeouts) and started over from the first chunk, so with one message in five reordered a
    // transfer of a few dozen chunks never completed.
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 20, snapshotChunkBytes: 64 }, seed);
    const leader = await elected(c);
    const lagging = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    c.simulation.network.isolate(lagging);
    for (let index = 0; index < 60; index += 1) await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: `key-${index}`, value: 'x'.repeat(20) }));
    c.simulation.network.configure({ dropRate: 0.05, reorderRate: 0.2, reorderWindowMs: 10 });
    c.simulation.network.heal();
    await c.settle(() => c.machines.get(lagging)!.entries().size === 60, 20_000);
    expect(c.nodes.get(lagging)!.stats().snapshotsInstalled).toBe(1);
  });

  it.each([
    [1, Number.POSITIVE_INFINITY],
    [2, Number.POSITIVE_INFINITY],
    [1, 16],
  ])('seed=%d, queue limit %d: a snapshot reaches a follower whose link takes longer than an election timeout per chunk at the pace of the link (review finding)', async (seed, queueLimit) => {
    // Chunks were sent again after an election timeout without progress, however slowly the
    // follower was progressing: on a link where one chunk takes longer than that, every chunk
    // came with another window of copies, which queued ahead of the chunks the follower needed
    // (behind a queue without a limit, forever; behind a full one, the transfer stalled and
    // started over) and the snapshot never arrived. It arrived in 3.5 s before the resends.
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 20, snapshotChunkBytes: 64 }, seed);
    const leader = await elected(c);
    const lagging = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    c.simulation.network.isolate(lagging);
    for (let index = 0; index < 60; index += 1) await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: `key-${index}`, value: 'x'.repeat(20) }));
    slowChunkLink(c, leader, lagging, 130, queueLimit); // the election timeout is 10 ticks of 10 ms
    c.simulation.network.heal();
    await c.settle(() => c.machines.get(lagging)!.entries().size === 60, 20_000);
    expect(c.nodes.get(lagging)!.stats().snapshotsInstalled).toBe(1);
    const snapshot = (c.nodes.get(leader)! as unknown as { storage: { snapshot(): { data: Uint8Array } } }).storage.snapshot();
    const chunks = c.sent.filter((message) => message.from === leader && message.to === lagging && message.type === 'snapshot-chunk').length;
    // The snapshot's chunks, and at most two windows (of four) again.
    expect(chunks).toBeLessThanOrEqual(Math.ceil(snapshot.data.byteLength / 64) + 2 * 4);
  });

  it('a leader that steps down stops sending the snapshot it was sending', async () => {
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 20, snapshotChunkBytes: 64 });
    const leader = await elected(c);
    const [lagging, successor] = ['n1', 'n2', 'n3'].filter((id) => id !== leader) as [string, string];
    c.simulation.network.isolate(lagging);
    for (let index = 0; index < 60; index += 1) await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: `key-${index}`, value: 'x'.repeat(20) }));
    const chunks = (): number => c.sent.filter((message) => message.from === leader && message.to === lagging && message.type === 'snapshot-chunk').length;
    c.simulation.network.heal();
    await c.settle(() => chunks() > 0);
    c.simulation.network.isolate(lagging); // the transfer starts, then hears nothing back
    expect(c.nodes.get(leader)!.transferLeadership(successor)).toBe(true);
    await c.settle(() => c.leader() === successor);
    const sentWhileLeading = chunks();
    await c.simulation.runForAsync(5000);
    expect(c.nodes.get(leader)!.status().role).toBe('follower');
    expect(chunks()).toBe(sentWhileLeading);
  });

  it('settles a cut-off leader\'s membership change when a snapshot replaces its log, and tells the snapshot\'s membership (review finding)', async () => {
    // A snapshot install failed the proposals it covered but not membership changes (one
    // without a deadline never settled), and the membership it brought was never told: the
    // core took it while the snapshot was stepped, before the Ready the change was looked for.
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 20, requestTimeoutMs: 60_000 });
    const old = await elected(c);
    const told: unknown[] = [];
    c.nodes.get(old)!.on('membership-change', (membership) => told.push(membership));
    for (const learner of ['x1', 'x2']) c.simulation.addNode(learner); // reachable, never started
    await c.run(() => c.nodes.get(old)!.propose({ op: 'put', key: 'warm-up', value: 0 })); // its own term's entry first
    c.simulation.network.isolate(old);
    let change: unknown;
    void c.nodes.get(old)!.addLearner('x1', { timeoutMs: Number.POSITIVE_INFINITY }).then(
      () => (change = 'applied'),
      (error: unknown) => (change = code(error)),
    );
    await c.settle(() => c.leader() !== undefined && c.leader() !== old);
    const next = c.leader()!;
    await c.run(() => c.nodes.get(next)!.propose({ op: 'put', key: 'first', value: 0 })); // its own term's entry first
    await c.run(() => c.nodes.get(next)!.addLearner('x2'));
    for (let index = 0; index < 40; index += 1) await c.run(() => c.nodes.get(next)!.propose({ op: 'put', key: `key-${index}`, value: index }));
    c.simulation.network.heal();
    await c.settle(() => c.nodes.get(old)!.stats().snapshotsInstalled === 1 && change !== undefined);
    expect(change).toBe(RAFT_ERROR_CODES.timeout); // its outcome is unknown from the old node
    expect(told.at(-1)).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['x2'] });
  });

  it('drops and counts malformed messages without disturbing the cluster', async () => {
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    c.simulation.addNode('intruder');
    const intruder = c.simulation.node('intruder').transport;
    const garbage: unknown[] = [
      null,
      'hello',
      { type: 'append', from: 'intruder', to: leader, term: 'high' },
      { type: 'vote', from: 'n1', to: leader, term: 99, lastIndex: 0, lastTerm: 0, preVote: false, transfer: false },
      { type: 'append', from: 'intruder', to: leader, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ kind: 'normal', index: 5, term: 1, data: new Uint8Array(1) }] },
      { type: 'snapshot-chunk', from: 'intruder', to: leader, term: 1, id: 'x', meta: { index: 1, term: 1, membership: { voters: [], learners: [] } }, offset: 0, total: 2 ** 40, data: new Uint8Array(1) },
      { type: 'mystery', from: 'intruder', to: leader, term: 1 },
    ];
    for (const payload of garbage) intruder.send(leader, 'raft', payload);
    await c.simulation.runForAsync(100);
    expect(c.nodes.get(leader)!.stats().invalidMessages).toBe(garbage.length);
    expect(c.leader()).toBe(leader);
    await expect(c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'still', value: 'fine' }))).resolves.toMatchObject({ op: 'put' });
  });

  it.each([1, 4])('seed=%d: tells the leader a snapshot above the follower\'s limits.maxSnapshotBytes was refused, and the leader backs off (review finding)', async (seed) => {
    // The follower dropped each chunk as an invalid message (its invalidMessages counter the only
    // sign) and answered nothing: the leader sent the snapshot again and again for as long as it
    // led, and nothing on it said why the follower never caught up.
    let followerLimit = 64;
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 5, optionsOf: (id) => (id === 'n3' ? { limits: { maxSnapshotBytes: followerLimit } } : {}) }, seed);
    const leader = await electedOtherThan(c, 'n3');
    const node = c.nodes.get(leader)!;
    c.simulation.crash('n3');
    for (let n = 0; n < 20; n += 1) await c.run(() => node.propose({ op: 'put', key: `key-${n}`, value: n }));
    await c.settle(() => node.status().snapshotIndex >= 15);
    const refusals: { at: number; refusal: SnapshotRefusal }[] = [];
    node.on('snapshot-refused', (refusal) => refusals.push({ at: c.simulation.now(), refusal }));
    const chunksBefore = c.sent.filter((message) => message.to === 'n3' && message.type === 'snapshot-chunk').length;
    const chunks = (): number => c.sent.filter((message) => message.to === 'n3' && message.type === 'snapshot-chunk').length - chunksBefore;
    c.simulation.restart('n3');
    await c.simulation.runForAsync(60_000);

    // Told on the leader, with the follower and both sizes, and in its status.
    expect(refusals.length).toBeGreaterThan(0);
    const first = refusals[0]!.refusal;
    expect(first).toMatchObject({ follower: 'n3', limit: 64 });
    expect(first.bytes).toBeGreaterThan(64);
    expect(node.status().snapshotRefusals).toMatchObject({ n3: { limit: 64, bytes: first.bytes, refusals: refusals.length } });
    expect(c.nodes.get('n3')!.stats().snapshotsInstalled).toBe(0);
    // The follower counts what it refused as such, not as invalid messages (a hostile peer's sign).
    expect(c.nodes.get('n3')!.stats()).toMatchObject({ invalidMessages: 0, snapshotChunksTooLarge: chunks(), snapshotsRefused: 0 });
    // Backed off: each attempt waits at least as long as the one before, and the waits grow.
    const gaps = refusals.slice(1).map(({ at }, position) => at - refusals[position]!.at);
    for (let position = 1; position < gaps.length; position += 1) expect(gaps[position]!).toBeGreaterThanOrEqual(gaps[position - 1]! * 0.9);
    expect(gaps.at(-1)!).toBeGreaterThanOrEqual(4 * gaps[0]!);
    // About one chunk an attempt (the snapshot fits one chunk): before, a minute held over a
    // hundred, sent again at every silence of an election timeout and every abandoned transfer.
    expect(chunks()).toBeLessThanOrEqual(2 * refusals.length);
    expect(refusals.length).toBeLessThan(20);

    // Restarted with a limit that holds the snapshot, the follower gets it at the next attempt.
    followerLimit = 1024 * 1024;
    c.simulation.crash('n3');
    c.simulation.restart('n3');
    await c.settle(() => c.machines.get('n3')?.entries().get('key-19') === 19, 60_000);
    expect(c.nodes.get('n3')!.stats().snapshotsInstalled).toBe(1);
    await c.settle(() => node.status().snapshotRefusals.n3 === undefined);
  });

  it.each([1, 4])('seed=%d: sends a follower that refuses a snapshot of many chunks for its size one chunk an attempt, not a window of them (review finding)', async (seed) => {
    // The leader sent a window of four chunks before the follower's answer to the first could
    // arrive: three more chunks for nothing at every attempt, each refused and counted again on
    // the follower, though the first already announced the total the follower refuses.
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 5, snapshotChunkBytes: 16, optionsOf: (id) => (id === 'n3' ? { limits: { maxSnapshotBytes: 64 } } : {}) }, seed);
    const leader = await electedOtherThan(c, 'n3');
    const node = c.nodes.get(leader)!;
    c.simulation.crash('n3');
    for (let n = 0; n < 20; n += 1) await c.run(() => node.propose({ op: 'put', key: `key-${n}`, value: n }));
    await c.settle(() => node.status().snapshotIndex >= 15);
    let refusals = 0;
    let bytes = 0;
    node.on('snapshot-refused', (refusal) => {
      refusals += 1;
      bytes = refusal.bytes;
    });
    c.simulation.restart('n3');
    await c.simulation.runForAsync(30_000);

    expect(bytes).toBeGreaterThan(4 * 16);
    expect(refusals).toBeGreaterThan(2);
    // One chunk reached the follower for each attempt it refused.
    expect(c.nodes.get('n3')!.stats().snapshotChunksTooLarge).toBe(refusals);
  });

  it.each([1, 4])('seed=%d: forgets a follower\'s snapshot refusals once it is removed from the membership, and sends it nothing more (review finding)', async (seed) => {
    // The refusal stayed in status().snapshotRefusals for as long as the leader led, naming a
    // node no longer in the cluster, and the refused transfer stayed with it.
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 5, optionsOf: (id) => (id === 'n3' ? { limits: { maxSnapshotBytes: 64 } } : {}) }, seed);
    const leader = await electedOtherThan(c, 'n3');
    const node = c.nodes.get(leader)!;
    c.simulation.crash('n3');
    for (let n = 0; n < 20; n += 1) await c.run(() => node.propose({ op: 'put', key: `key-${n}`, value: n }));
    await c.settle(() => node.status().snapshotIndex >= 15);
    let refused = 0;
    node.on('snapshot-refused', () => (refused += 1));
    c.simulation.restart('n3');
    await c.settle(() => refused > 0, 30_000);
    expect(node.status().snapshotRefusals.n3).toBeDefined();
    const term = node.status().term;
    await c.run(() => node.removeMember('n3'));
    await c.simulation.runForAsync(1_000);
    expect(node.status()).toMatchObject({ role: 'leader', term });
    expect(node.status().snapshotRefusals).toEqual({});
    const chunksAfter = c.sent.length;
    await c.simulation.runForAsync(60_000);
    expect(node.status()).toMatchObject({ role: 'leader', term });
    expect(c.sent.slice(chunksAfter).filter((message) => message.to === 'n3' && message.type === 'snapshot-chunk')).toEqual([]);
  });

  it.each([1, 4])('seed=%d: takes no refusal whose limit holds the snapshot, which no follower sends, for one (review finding)', async (seed) => {
    // A refusal is sent only for a snapshot above the follower's limit: one naming a limit at or
    // above the snapshot's size (a buggy or hostile peer's) was told as a refusal, with a limit
    // that contradicts it, and held the transfer back for two election timeouts and more.
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 5 }, seed);
    const leader = await electedOtherThan(c, 'n3');
    const node = c.nodes.get(leader)!;
    c.simulation.crash('n3');
    for (let n = 0; n < 20; n += 1) await c.run(() => node.propose({ op: 'put', key: `key-${n}`, value: n }));
    await c.settle(() => node.status().snapshotIndex >= 15);
    let refused = 0;
    node.on('snapshot-refused', () => (refused += 1));
    const invalidBefore = node.stats().invalidMessages;
    const crashed = c.nodes.get('n3');
    c.simulation.restart('n3');
    await c.settle(() => c.nodes.get('n3') !== crashed);
    const transport = (c.nodes.get('n3') as unknown as { options: { transport: { send: (peer: string, channel: string, payload: unknown) => boolean } } }).options.transport;
    const send = transport.send;
    let forged = 0;
    transport.send = (peer, channel, payload) => {
      const message = payload as { type: string };
      if (message.type !== 'snapshot-chunk-ack' || forged > 0) return send(peer, channel, payload);
      forged += 1;
      return send(peer, channel, { ...message, received: 0, maxSnapshotBytes: Number.MAX_SAFE_INTEGER });
    };
    await c.settle(() => forged === 1, 30_000);
    await c.simulation.runForAsync(100);
    expect(refused).toBe(0);
    // And the transfer goes on (the chunk is sent again after a silence, and acknowledged).
    await c.run(() => node.propose({ op: 'put', key: 'after', value: 1 }));
    await c.settle(() => c.machines.get('n3')?.entries().get('after') === 1, 30_000);
    expect(c.nodes.get('n3')!.stats().snapshotsInstalled).toBe(1);
    expect(node.status().snapshotRefusals).toEqual({});
    expect(node.stats().invalidMessages).toBe(invalidBefore + 1);
  });

  it('holds no more for a snapshot being received than what has arrived, whatever size its first chunk claims (review finding)', async () => {
    // The receive buffer was allocated at the size the first chunk claims (up to
    // limits.maxSnapshotBytes, 1 GiB by default) before anything arrived: one chunk of one byte
    // with a higher term, from anyone that can reach the node, was enough.
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    const term = c.nodes.get(follower)!.status().term;
    c.simulation.addNode('intruder');
    const intruder = c.simulation.node('intruder').transport;
    const held = (): number => {
      const incoming = (c.nodes.get(follower)! as unknown as { incoming: { buffer: Uint8Array } | null }).incoming;
      return incoming?.buffer.byteLength ?? 0;
    };
    const chunk = (offset: number, size: number): unknown => ({
      type: 'snapshot-chunk',
      from: 'intruder',
      to: follower,
      term: term + 1,
      id: 'forged',
      meta: { index: 1_000_000, term: term + 1, membership: { voters: ['intruder'], learners: [] } },
      offset,
      total: 1024 * 1024 * 1024,
      data: new Uint8Array(size),
    });
    intruder.send(follower, 'raft', chunk(0, 1));
    await c.simulation.runForAsync(50);
    expect(held()).toBeLessThanOrEqual(1);
    for (let offset = 1; offset < 3001; offset += 1000) intruder.send(follower, 'raft', chunk(offset, 1000));
    await c.simulation.runForAsync(50);
    expect(held()).toBeLessThanOrEqual(2 * 3001);
    expect(c.nodes.get(follower)!.stats().invalidMessages).toBe(0);
    expect(c.nodes.get(follower)!.status().term).toBe(term); // an unfinished snapshot is not stepped
    await expect(c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'still', value: 'fine' }))).resolves.toMatchObject({ op: 'put' });
  });

  it("a lower term's chunk never displaces the transfer of a newer leader being received (review finding)", async () => {
    // A chunk's term was checked against the follower's own, which learns a new leader's term
    // only when something other than a chunk arrives from it: until then the deposed leader's
    // first chunk of a transfer displaced the new leader's, and the new leader's next chunks were
    // dropped, until its transfer stalled and started over.
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    await c.settle(() => c.nodes.get(follower)!.status().commit >= 1);
    const term = c.nodes.get(follower)!.status().term;
    c.simulation.addNode('successor');
    const successor = c.simulation.node('successor').transport;
    const acknowledged: string[] = [];
    successor.onMessage('raft', ({ payload }) => {
      const ack = payload as { type: string; id: string; received: number };
      if (ack.type === 'snapshot-chunk-ack') acknowledged.push(`${ack.id}@${ack.received}`);
    });
    // A snapshot the follower already holds (index 1): stepping it only moves its term. Its
    // bytes are a key-value snapshot ([['', 0]]), as a follower steps none its state machine refuses.
    const data = Uint8Array.of(0x81, 0x82, 0x60, 0x00);
    const chunk = (from: string, chunkTerm: number, id: string, offset: number): unknown => ({
      type: 'snapshot-chunk',
      from,
      to: follower,
      term: chunkTerm,
      id,
      meta: { index: 1, term: 1, membership: { voters: ['n1', 'n2', 'n3'], learners: [] } },
      offset,
      total: 4,
      data: data.subarray(offset, offset + 2),
    });
    successor.send(follower, 'raft', chunk('successor', term + 1, 'newer', 0));
    await c.simulation.runForAsync(20);
    c.simulation.node(leader).transport.send(follower, 'raft', chunk(leader, term, 'older', 0));
    await c.simulation.runForAsync(20);
    successor.send(follower, 'raft', chunk('successor', term + 1, 'newer', 2));
    await c.simulation.runForAsync(20);
    expect(acknowledged).toEqual(['newer@2', 'newer@4']);
    expect(c.nodes.get(follower)!.status().term).toBe(term + 1); // the finished snapshot was stepped
  });

  it('a late copy of the first chunk of a transfer already replaced or finished is not assembled again (review finding)', async () => {
    // Any first chunk with another id restarted assembly: a duplicated or reordered copy of an
    // earlier transfer's first chunk displaced the leader's current transfer, whose next chunks
    // were then dropped until it stalled and started over (and a finished one was taken again).
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    await c.settle(() => c.nodes.get(follower)!.status().commit >= 1);
    const term = c.nodes.get(follower)!.status().term;
    const sender = c.simulation.node(leader).transport;
    const acknowledged: string[] = [];
    sender.onMessage('raft', ({ payload }) => {
      const ack = payload as { type: string; id: string; received: number };
      if (ack.type === 'snapshot-chunk-ack') acknowledged.push(`${ack.id}@${ack.received}`);
    });
    const chunk = (id: string, offset: number): unknown => ({
      type: 'snapshot-chunk',
      from: leader,
      to: follower,
      term,
      id,
      meta: { index: 1, term: 1, membership: { voters: ['n1', 'n2', 'n3'], learners: [] } },
      offset,
      total: 4,
      data: new Uint8Array(2),
    });
    for (const [id, offset] of [['first', 0], ['second', 0], ['first', 0], ['second', 2], ['second', 0], ['first', 0]] as const) {
      sender.send(follower, 'raft', chunk(id, offset));
      await c.simulation.runForAsync(20);
    }
    // Late copies are answered with what arrived of their transfer, and start nothing.
    expect(acknowledged.filter((ack) => ack.startsWith('second'))).toEqual(['second@2', 'second@4', 'second@4']);
    expect(acknowledged.filter((ack) => ack.startsWith('first'))).toEqual(['first@2', 'first@2', 'first@2']);
    expect(c.leader()).toBe(leader);
  });

  it('a follower refuses a snapshot its state machine cannot restore: it stays up, persists nothing of it, starts again as it was, and catches up from the next good one (review finding)', async () => {
    // The driver persisted a snapshot from the leader before the state machine restored it, and
    // a restore that threw then stopped the node, which failed again at every start on the
    // snapshot it had written: bytes from a newer version's state machine were enough.
    const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 20, snapshotChunkBytes: 64 });
    const leader = await elected(c);
    const lagging = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    for (let index = 0; index < 5; index += 1) await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: `early-${index}`, value: index }));
    await c.settle(() => c.machines.get(lagging)!.entries().size === 5 && disk(c, lagging).commit === c.nodes.get(leader)!.status().commit);
    c.simulation.network.isolate(lagging);
    const machine = c.machines.get(leader)!;
    const pieces = machine.snapshotPieces!.bind(machine);
    // A CBOR map where the key-value machine reads an array of pairs: as a newer format would be.
    machine.snapshotPieces = function* unreadable() {
      yield Uint8Array.of(0xa1, 0x67, ...new TextEncoder().encode('version'), 0x02);
    };
    for (let index = 0; index < 40; index += 1) await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: `key-${index}`, value: index }));
    expect(c.nodes.get(leader)!.stats().snapshotsTaken).toBeGreaterThan(0);
    const before = { disk: disk(c, lagging), status: c.nodes.get(lagging)!.status() };
    const errors: FoundationError[] = [];
    c.nodes.get(lagging)!.on('error', (error) => errors.push(error));
    c.simulation.network.heal();
    await c.settle(() => c.nodes.get(lagging)!.stats().snapshotsRefused >= 2 || c.nodes.get(lagging)!.failure() !== null);
    const node = c.nodes.get(lagging)!;
    expect(node.failure()).toBeNull();
    expect(node.stats().snapshotsInstalled).toBe(0);
    // One error for the snapshot, however many times the leader sends it again.
    expect(errors.map((error) => [error.code, error.context])).toEqual([[RAFT_ERROR_CODES.snapshotRefused, expect.objectContaining({ from: leader, index: expect.any(Number) })]]);
    expect(errors[0]!.cause).toMatchObject({ type: 'deserialization_failed' });
    expect(disk(c, lagging)).toEqual(before.disk);
    expect(c.machines.get(lagging)!.entries().size).toBe(5);
    expect(node.status()).toMatchObject({ role: 'follower', lastIndex: before.status.lastIndex, commit: before.status.commit, snapshotIndex: before.status.snapshotIndex });

    // Restarted, it starts from what it had, and refuses the snapshot again rather than fail on it.
    c.simulation.crash(lagging);
    c.simulation.restart(lagging);
    await c.run(() => c.nodes.get(lagging)!.start());
    await c.settle(() => c.machines.get(lagging)!.entries().size === 5 && c.nodes.get(lagging)!.stats().snapshotsRefused > 0);
    expect(c.nodes.get(lagging)!.failure()).toBeNull();
    expect(c.nodes.get(lagging)!.status()).toMatchObject({ lastIndex: before.status.lastIndex, snapshotIndex: before.status.snapshotIndex });
    expect(c.machines.get(lagging)!.entries().get('early-4')).toBe(4);

    // The leader's next snapshot is one the follower reads: it installs that one and catches up.
    machine.snapshotPieces = pieces;
    for (let index = 40; index < 70; index += 1) await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: `key-${index}`, value: index }));
    await c.settle(() => c.machines.get(lagging)!.entries().size === machine.entries().size);
    expect(c.nodes.get(lagging)!.stats().snapshotsInstalled).toBe(1);
    expect(c.machines.get(lagging)!.entries().get('key-69')).toBe(69);
    expect(c.nodes.get(lagging)!.failure()).toBeNull();
  });

  it('a snapshot it cannot restore, sent with a higher term by a member, changes nothing on the node that refuses it (review finding)', async () => {
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    const other = ['n1', 'n2', 'n3'].find((id) => id !== leader && id !== follower)!;
    await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'k', value: 1 }));
    await c.settle(() => c.machines.get(follower)!.entries().get('k') === 1 && disk(c, follower).commit === c.nodes.get(leader)!.status().commit);
    const before = { disk: disk(c, follower), status: c.nodes.get(follower)!.status() };
    const errors: FoundationError[] = [];
    c.nodes.get(follower)!.on('error', (error) => errors.push(error));
    const data = Uint8Array.of(0xff, 0x00, 0x13);
    c.simulation.node(other).transport.send(follower, 'raft', {
      type: 'snapshot-chunk',
      from: other,
      to: follower,
      term: before.status.term + 5,
      id: 'unreadable',
      meta: { index: 100, term: before.status.term + 5, membership: { voters: ['n1', 'n2', 'n3'], learners: [] } },
      offset: 0,
      total: data.byteLength,
      data,
    });
    await c.simulation.runForAsync(100);
    const node = c.nodes.get(follower)!;
    expect(node.failure()).toBeNull();
    expect(errors.map((error) => error.code)).toEqual([RAFT_ERROR_CODES.snapshotRefused]);
    expect(errors[0]!.message).toContain(`from ${other}`);
    expect(node.stats()).toMatchObject({ snapshotsRefused: 1, snapshotsInstalled: 0 });
    // Its term, leader and log are as they were: the snapshot was never stepped.
    expect(node.status()).toMatchObject({ term: before.status.term, leader, lastIndex: before.status.lastIndex, snapshotIndex: 0 });
    expect(disk(c, follower)).toMatchObject({ snapshotIndex: 0, term: before.disk.term });
    expect(c.leader()).toBe(leader);
    await expect(c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'still', value: 'fine' }))).resolves.toMatchObject({ op: 'put' });
    await c.settle(() => c.machines.get(follower)!.entries().get('still') === 'fine');
  });

  it('fails start, naming the snapshot, when the snapshot on disk cannot be restored (review finding)', async () => {
    // Written by another version, say: refusing to start is the honest answer, and the error
    // says which snapshot, with the state machine's reason as its cause.
    const persistence = createMemoryPersistence();
    await persistence.saveSnapshot({ meta: { index: 7, term: 3, membership: { voters: ['solo'], learners: [] } }, data: Uint8Array.of(0xa0) });
    const simulation = createSimulation({ seed: 1 });
    simulation.addNode('solo');
    const node = createRaftNode({
      id: 'solo',
      peers: ['solo'],
      persistence,
      transport: simulation.node('solo').transport,
      stateMachine: createKvStateMachine(),
      clock: simulation.node('solo').clock,
      random: simulation.node('solo').random,
    });
    const failure = await node.start().catch((error: unknown) => error);
    expect(code(failure)).toBe(RAFT_ERROR_CODES.snapshotRefused);
    expect((failure as FoundationError).message).toContain('index 7, term 3');
    expect((failure as FoundationError).cause).toMatchObject({ type: 'deserialization_failed' });
  });

  it('lets go of its storage when start fails, so the directory can be opened again (review finding)', async () => {
    // The node had opened (and locked) its file storage when the snapshot refused the start;
    // nothing closed it, so the directory stayed locked until the caller thought to call stop().
    const directory = mkdtempSync(join(tmpdir(), 'raft-failed-start-'));
    try {
      const writer = createFileStorage(directory);
      await writer.load();
      await writer.saveSnapshot({ meta: { index: 7, term: 3, membership: { voters: ['solo'], learners: [] } }, data: Uint8Array.of(0xa0) });
      await writer.close();
      const simulation = createSimulation({ seed: 1 });
      simulation.addNode('solo');
      const node = createRaftNode({
        id: 'solo',
        peers: ['solo'],
        persistence: createFileStorage(directory),
        transport: simulation.node('solo').transport,
        stateMachine: createKvStateMachine(),
        clock: simulation.node('solo').clock,
        random: simulation.node('solo').random,
      });
      expect(code(await node.start().catch((error: unknown) => error))).toBe(RAFT_ERROR_CODES.snapshotRefused);

      const again = createFileStorage(directory);
      const state = await again.load();
      expect(state.snapshot?.meta.index).toBe(7);
      await again.close();
      await node.stop(); // still resolves
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('stops loudly when the disk fails, and rejects what was pending', async () => {
    const c = cluster(['solo']);
    const leader = await elected(c);
    const errors: FoundationError[] = [];
    c.nodes.get(leader)!.on('error', (error) => errors.push(error));
    interceptSave(c, leader, () => Promise.reject(new Error('EIO: the disk is gone')));
    const failure = await c.run(() => c.nodes.get(leader)!.propose({ op: 'put', key: 'k', value: 1 })).catch((error: unknown) => error);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain('failed');
    // The proposal was in the log: stopped, outcome unknown, the failure as the cause.
    expect(code(failure)).toBe(RAFT_ERROR_CODES.stopped);
    expect((failure as FoundationError).context).toMatchObject({ outcomeUnknown: true });
    expect((failure as FoundationError).cause).toBe(errors[0]);
    await expect(c.nodes.get(leader)!.propose({ op: 'put', key: 'k', value: 2 })).rejects.toBeDefined();
    // Asked afterwards, the node says it stopped and why; a node that is only stopped says nothing.
    expect(c.nodes.get(leader)!.failure()).toBe(errors[0]);
  });

  it('emits error once when a write of the commit index and the next write of entries both fail, as on a full disk', async () => {
    // Each failed write called the failure path: the background write of a commit index failed,
    // then the next batch, which waits for it, wrote its entries, failed too, and the node
    // emitted error a second time for one failure.
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    const errors: FoundationError[] = [];
    node.on('error', (error) => errors.push(error));
    const clock = c.simulation.node(leader).clock;
    let full = false;
    interceptSave(c, leader, (update, original) => {
      // The entries go to disk; from the first write of a commit index alone, the disk is full.
      if (!full && update.entries.length > 0) return original.save(update);
      full = true;
      return new Promise<void>((_, reject) => void clock.setTimer(5, () => reject(new Error('ENOSPC: no space left on device'))));
    });
    await c.run(() => node.propose({ op: 'put', key: 'a', value: 1 }));
    const second = node.propose({ op: 'put', key: 'b', value: 2 }).catch(() => undefined);
    await c.run(() => second);
    await c.simulation.runForAsync(100);
    expect({ full, errors: errors.length }).toEqual({ full: true, errors: 1 });
    expect(node.failure()).toBe(errors[0]);
  });

  it('has no failure while it runs, nor after a plain stop()', async () => {
    const c = cluster(['solo']);
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    expect(node.failure()).toBeNull();
    await c.run(() => node.stop());
    expect(node.failure()).toBeNull();
  });

  it.each([1, 2, 3])('seed=%d: a proposal in its log when the node stops fails saying its outcome is unknown, and it may apply (review finding)', async (seed) => {
    // It failed with a bare StoppedError, while the followers already held the entry and the
    // next leader committed it: a caller could not tell it from a call that never reached the log.
    const c = cluster(['n1', 'n2', 'n3'], {}, seed);
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    await c.run(() => node.propose({ op: 'put', key: 'warm-up', value: 0 }));
    let inFlight: unknown;
    void node.propose({ op: 'put', key: 'k', value: 'in flight' }).catch((error: unknown) => (inFlight = error));
    await Promise.resolve(); // proposed: in the log, its appends on their way
    let queued: unknown;
    void node.propose({ op: 'put', key: 'k', value: 'queued' }).catch((error: unknown) => (queued = error));
    await c.run(() => node.stop());
    expect(code(inFlight)).toBe(RAFT_ERROR_CODES.stopped);
    expect((inFlight as FoundationError).context).toMatchObject({ outcomeUnknown: true });
    expect((inFlight as FoundationError).message).toContain('outcome is unknown');
    // Refused before it reached the log: certainly not applied.
    expect(code(queued)).toBe(RAFT_ERROR_CODES.stopped);
    expect((queued as FoundationError).context).toMatchObject({ outcomeUnknown: false });
    const others = ['n1', 'n2', 'n3'].filter((id) => id !== leader);
    await c.settle(() => others.every((id) => c.machines.get(id)!.entries().get('k') === 'in flight'), 5_000);
  });

  it.each([1, 2])('seed=%d: stop() after the node failed resolves only once its storage is closed (review finding)', async (seed) => {
    // A failure closes the storage in the background and marks the node stopped; stop() then
    // resolved at once, while the close (and the writes queued before it) were still running, so a
    // caller that reopened the same files on stop() could have both writing one log.
    const c = cluster(['n1', 'n2', 'n3'], {}, seed);
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    const inner = node as unknown as { options: { persistence: RaftPersistence } };
    const original = inner.options.persistence;
    let closed = false;
    inner.options.persistence = {
      ...original,
      save: (update) => (update.entries.length > 0 ? Promise.reject(new Error('EIO: the disk is gone')) : original.save(update)),
      close: () => new Promise<void>((resolve) => c.simulation.clock.setTimer(50, resolve)).then(() => original.close()).then(() => void (closed = true)),
    };
    node.on('error', () => undefined);
    let closedWhenStopped: boolean | undefined;
    const failure = await c.run(() =>
      node.propose({ op: 'put', key: 'k', value: 1 }).catch(async (error: unknown) => {
        await node.stop();
        closedWhenStopped = closed;
        return error;
      }),
    );
    expect(code(failure)).toBe(RAFT_ERROR_CODES.stopped);
    expect(closedWhenStopped).toBe(true);
  });

  it('closes its storage after a failure only once the snapshot being written is done (review finding)', async () => {
    // The failure path closed the storage at once, while a snapshot was still being written: the
    // storage renamed and compacted after its close, and a caller that reopened the files on the
    // error could have found them changing under it.
    const c = cluster(['solo'], { snapshotEvery: 2 });
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    const inner = node as unknown as { options: { persistence: RaftPersistence } };
    const original = inner.options.persistence;
    let release: (() => void) | null = null;
    let snapshotDone = false;
    let snapshotDoneAtClose: boolean | undefined;
    inner.options.persistence = {
      ...original,
      saveSnapshot: (snapshot) =>
        new Promise<void>((resolve) => (release = resolve))
          .then(() => original.saveSnapshot(snapshot))
          .then(() => void (snapshotDone = true)),
      // Once a snapshot is held, the disk fails for entries.
      save: (update) => (release !== null && update.entries.length > 0 ? Promise.reject(new Error('EIO: the disk is gone')) : original.save(update)),
      close: () => {
        snapshotDoneAtClose = snapshotDone;
        return original.close();
      },
    };
    node.on('error', () => undefined);
    // Proposals until a snapshot is being written, and one more, which fails.
    let failure: unknown = null;
    for (let value = 0; failure === null && value < 10; value += 1) {
      failure = await c.run(() => node.propose({ op: 'put', key: 'k', value }).then(() => null, (error: unknown) => error));
    }
    expect(release).not.toBeNull();
    expect(code(failure)).toBe(RAFT_ERROR_CODES.stopped);
    await c.simulation.runForAsync(50);
    expect(snapshotDoneAtClose).toBeUndefined();
    release!();
    await c.run(() => node.stop());
    expect(snapshotDoneAtClose).toBe(true);
  });

  it('closes its storage after a failure only once the log write in flight has settled (review finding)', async () => {
    // The failure path waited for a snapshot being written, not for the log write the Ready loop
    // was waiting on: a storage whose own close() does not wait for its writes (the file storage's
    // does, a custom one may not) was closed under that write.
    const c = cluster(['solo'], { snapshotEvery: 2 });
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    const inner = node as unknown as { options: { persistence: RaftPersistence } };
    const original = inner.options.persistence;
    let failSnapshot: ((error: Error) => void) | null = null;
    let holdSaves = false;
    let releaseSave: (() => void) | null = null;
    let saveSettled = false;
    let saveSettledAtClose: boolean | undefined;
    inner.options.persistence = {
      ...original,
      // A snapshot's write hangs until the test fails it: that failure stops the node.
      saveSnapshot: () => new Promise<void>((_resolve, reject) => (failSnapshot = reject)),
      save: (update) => {
        if (!holdSaves || update.entries.length === 0) return original.save(update);
        return new Promise<void>((resolve) => (releaseSave = resolve))
          .then(() => original.save(update))
          .finally(() => void (saveSettled = true));
      },
      close: () => {
        saveSettledAtClose = saveSettled;
        return original.close();
      },
    };
    node.on('error', () => undefined);
    for (let value = 0; failSnapshot === null && value < 10; value += 1) await c.run(() => node.propose({ op: 'put', key: 'k', value }));
    expect(failSnapshot).not.toBeNull();
    // One more proposal, whose log write stays in flight; then the snapshot's write fails.
    holdSaves = true;
    const pending = node.propose({ op: 'put', key: 'k', value: 'last' }).then(() => null, (error: unknown) => error);
    await c.settle(() => releaseSave !== null);
    failSnapshot!(new Error('EIO: the disk is gone'));
    await c.simulation.runForAsync(50);
    expect(node.failure()).not.toBeNull();
    expect(saveSettledAtClose).toBeUndefined();
    releaseSave!();
    await c.run(() => node.stop());
    expect(saveSettledAtClose).toBe(true);
    expect(code(await pending)).toBe(RAFT_ERROR_CODES.stopped);
  });

  it('writes nothing more once the commit index\'s background write failed, and closes its storage with no write in flight (review finding)', async () => {
    // A batch with entries waits for the commit index's write in the background; when that
    // write failed, the node failed and began to close its storage, and the batch was then
    // written anyway, under the close.
    const c = cluster(['solo']);
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    const inner = node as unknown as { options: { persistence: RaftPersistence } };
    const original = inner.options.persistence;
    let armed = false;
    let failCommitWrite: ((error: Error) => void) | null = null;
    let inFlight = 0;
    let savesAfterFailure = 0;
    let inFlightAtClose: number | undefined;
    inner.options.persistence = {
      ...original,
      save: (update) => {
        if (node.failure() !== null) savesAfterFailure += 1;
        if (armed && failCommitWrite === null && update.entries.length === 0 && update.snapshot === undefined) {
          return new Promise<void>((_resolve, reject) => (failCommitWrite = reject));
        }
        inFlight += 1;
        return original.save(update).finally(() => void (inFlight -= 1));
      },
      close: () => {
        inFlightAtClose = inFlight;
        return original.close();
      },
    };
    node.on('error', () => undefined);
    armed = true;
    await c.run(() => node.propose({ op: 'put', key: 'k', value: 1 }));
    expect(failCommitWrite).not.toBeNull();
    // The next batch waits for the commit index's write, which then fails.
    const pending = node.propose({ op: 'put', key: 'k', value: 2 }).then(() => null, (error: unknown) => error);
    await c.simulation.runForAsync(20);
    failCommitWrite!(new Error('EIO: the disk is gone'));
    await c.simulation.runForAsync(50);
    expect(node.failure()).not.toBeNull();
    expect(savesAfterFailure).toBe(0);
    expect(inFlightAtClose).toBe(0);
    expect(code(await pending)).toBe(RAFT_ERROR_CODES.stopped);
  });

  it('writes no commit index queued behind the background one that failed (review finding)', async () => {
    // Commit indexes are written in the background, each after the one before: when one failed,
    // the node failed and began to close its storage, and those queued behind it were written
    // anyway, one after another, after the failure and before the close.
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    const node = c.nodes.get(leader)!;
    const inner = node as unknown as { options: { persistence: RaftPersistence } };
    const original = inner.options.persistence;
    let armed = false;
    let failCommitWrite: ((error: Error) => void) | null = null;
    let savesAfterFailure = 0;
    inner.options.persistence = {
      ...original,
      save: (update) => {
        if (node.failure() !== null) savesAfterFailure += 1;
        if (armed && failCommitWrite === null && update.entries.length === 0 && update.snapshot === undefined) {
          return new Promise<void>((_resolve, reject) => (failCommitWrite = reject));
        }
        return original.save(update);
      },
    };
    node.on('error', () => undefined);
    armed = true;
    // Proposals faster than the followers answer: the commit index moves more than once with no
    // entries to write between, and its writes queue one behind the other.
    const proposals: Promise<unknown>[] = [];
    for (let value = 0; value < 5; value += 1) {
      proposals.push(node.propose({ op: 'put', key: 'k', value }).catch(() => undefined));
      await c.simulation.runForAsync(0.4);
    }
    await c.settle(() => failCommitWrite !== null);
    await c.simulation.runForAsync(20);
    failCommitWrite!(new Error('EIO: the disk is gone'));
    await c.simulation.runForAsync(50);
    expect(node.failure()).not.toBeNull();
    expect(savesAfterFailure).toBe(0);
    await c.run(() => Promise.all(proposals));
  });

  it('stop() ends pending calls with StoppedError', async () => {
    const c = cluster(['n1', 'n2', 'n3']);
    const leader = await elected(c);
    c.simulation.network.isolate(leader);
    let failure: unknown;
    void c.nodes.get(leader)!.propose({ op: 'put', key: 'k', value: 1 }).catch((error: unknown) => {
      failure = error;
    });
    await c.simulation.runForAsync(20);
    await c.run(() => c.nodes.get(leader)!.stop());
    expect(code(failure)).toBe(RAFT_ERROR_CODES.stopped);
  });
});

describe('what a member sends that no correct leader sends', () => {
  /** A single voter `n1`, leading with a command applied, and `forger`, a node of the network outside its group. */
  async function withForger(): Promise<{ c: Cluster; node: KvNode; send(payload: Record<string, unknown>): void }> {
    const c = cluster(['n1']);
    c.simulation.addNode('forger');
    await elected(c);
    await c.run(() => c.nodes.get('n1')!.propose({ op: 'put', key: 'k', value: 1 }));
    return { c, node: c.nodes.get('n1')!, send: (payload) => c.simulation.node('forger').transport.send('n1', 'raft', { from: 'forger', to: 'n1', ...payload }) };
  }

  it('refuses an append whose command the codec cannot read: the node neither takes the entry nor stops (hostile-peer finding)', async () => {
    // The append of a later term, its commit past the entry: the node followed the forger, took
    // the entry, committed it, and stopped on applying it, and again at every start.
    const { c, node, send } = await withForger();
    const before = node.status();
    send({ type: 'append', term: before.term + 1, prevIndex: before.lastIndex, prevTerm: before.term, commit: before.lastIndex + 1, entries: [{ kind: 'normal', index: before.lastIndex + 1, term: before.term + 1, data: Uint8Array.of(0xff, 0xff, 0x01) }] });
    await c.simulation.runForAsync(200);
    expect(node.failure()).toBeNull();
    expect(node.stats().invalidMessages).toBe(1);
    expect(node.status()).toMatchObject({ role: 'leader', term: before.term, lastIndex: before.lastIndex });
    await expect(c.run(() => node.propose({ op: 'put', key: 'k', value: 2 }))).resolves.toMatchObject({ op: 'put', previous: 1 });
  });

  it('refuses a message of a term above 2^48: the node stays in a term it can go on from (hostile-peer finding)', async () => {
    // A vote request of term Number.MAX_SAFE_INTEGER (a transfer, heard whatever the lease) made
    // the node take that term, and its next election went past the safe integers: peers refuse
    // such a term on the wire, and its own log refused it when read back at the next start.
    const { c, node, send } = await withForger();
    const before = node.status();
    send({ type: 'vote', term: Number.MAX_SAFE_INTEGER, lastIndex: before.lastIndex + 10, lastTerm: Number.MAX_SAFE_INTEGER, preVote: false, transfer: true });
    await c.simulation.runForAsync(2_000);
    expect(node.stats().invalidMessages).toBe(1);
    expect(node.status()).toMatchObject({ role: 'leader', term: before.term });
    await expect(c.run(() => node.propose({ op: 'put', key: 'k', value: 2 }))).resolves.toMatchObject({ op: 'put', previous: 1 });
  });
});
