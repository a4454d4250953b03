// The ConsensusLog port, tested the way the composition will use it: a single-node log (one
// leader whose commits reach several replicas with their own apply lag) on testkit's simulated
// clock, and on top of it `setClusterWide` / `getWithConsensus` built by composition only, as the
// `foundation` meta-package will build them over Raft. Histories of concurrent clients are
// checked for linearizability with testkit's checker.
import { describe, expect, it } from '@jest/globals';
import type { FoundationError } from '@foundation/core';
import type { Scheduler } from '@foundation/core';
import { checkLinearizability, createHistoryRecorder, createSimulation, kvModel } from '@foundation/testkit';
import type { Simulation } from '@foundation/testkit';
import { z } from 'zod';
import { createConfig } from '../config';
import type { Config } from '../types';
import type { AppliedEntry, ConfigCommand, ConsensusLog } from './consensus-log';

/**
 * A single-node consensus log: one leader, commits after a simulated fsync, each replica applies
 * committed entries in order after its own lag. readIndex answers the leader's commit index
 * after one simulated heartbeat round, as Raft's ReadIndex does.
 */
function createSingleNodeLog(clock: Scheduler, options: { commitDelayMs: number; heartbeatMs: number }) {
  const entries: ConfigCommand[] = [];
  let commitIndex = 0;
  const replicas: { deliver(upTo: number): void }[] = [];

  const replica = (applyLagMs: number): ConsensusLog<ConfigCommand> => {
    let applied = 0;
    let scheduledUpTo = 0;
    const listeners = new Set<(entry: AppliedEntry<ConfigCommand>) => void>();
    replicas.push({
      deliver(upTo) {
        if (upTo <= scheduledUpTo) return;
        scheduledUpTo = upTo;
        clock.setTimer(applyLagMs, () => {
          while (applied < upTo) {
            applied += 1;
            const entry = { index: applied, command: entries[applied - 1]! };
            for (const listener of [...listeners]) listener(entry);
          }
        });
      },
    });
    return {
      append(command) {
        entries.push(command);
        const index = entries.length;
        return new Promise<number>((resolve) => {
          clock.setTimer(options.commitDelayMs, () => {
            commitIndex = Math.max(commitIndex, index);
            for (const each of replicas) each.deliver(commitIndex);
            resolve(index);
          });
        });
      },
      readIndex() {
        const atCall = commitIndex;
        return new Promise<number>((resolve) => clock.setTimer(options.heartbeatMs, () => resolve(atCall)));
      },
      appliedIndex: () => applied,
      onApplied(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
  };
  return { replica, length: () => entries.length };
}

/** What the meta-package adds, by composition over the unchanged Config and the port. */
function createClusterConfig<T>(config: Config<T>, log: ConsensusLog<ConfigCommand>, report: (error: FoundationError) => void) {
  const waiting: { index: number; resolve: () => void }[] = [];
  log.onApplied(({ index, command }) => {
    const result = config.safeUpdate(command.path, command.value);
    if (!result.ok) report(result.error);
    for (let position = waiting.length - 1; position >= 0; position -= 1) {
      if (waiting[position]!.index <= index) waiting.splice(position, 1)[0]!.resolve();
    }
  });
  const applied = (index: number): Promise<void> =>
    log.appliedIndex() >= index ? Promise.resolve() : new Promise((resolve) => waiting.push({ index, resolve }));
  return {
    async setClusterWide(path: readonly string[], value: unknown): Promise<void> {
      const check = config.checkUpdate(path, value);
      if (!check.ok) throw check.error;
      const index = await log.append({ type: 'config-set', path, value });
      await applied(index);
    },
    async getWithConsensus(path: string): Promise<unknown> {
      await applied(await log.readIndex());
      return config.get(path);
    },
  };
}

const schema = z.object({ limits: z.object({ a: z.number().int().min(0), b: z.number().int().min(0) }), name: z.string() });

function cluster(simulation: Simulation, replicaCount: number) {
  const log = createSingleNodeLog(simulation.clock, { commitDelayMs: 3, heartbeatMs: 2 });
  const reported: FoundationError[] = [];
  const nodes = Array.from({ length: replicaCount }, (_, position) => {
    const config = createConfig({ defaults: { limits: { a: 0, b: 0 }, name: 'n' }, schema, updatablePaths: ['limits'] });
    const port = log.replica(1 + position * 7);
    return { config, port, cluster: createClusterConfig(config, port, (error) => reported.push(error)) };
  });
  return { log, nodes, reported };
}

describe('ConsensusLog: setClusterWide and getWithConsensus by composition', () => {
  for (const seed of [1, 2, 3]) {
    it(`concurrent clients on three replicas see a linearizable history (seed=${seed})`, async () => {
      const simulation = createSimulation({ seed });
      const { nodes, reported } = cluster(simulation, 3);
      const history = createHistoryRecorder();
      const clients = Array.from({ length: 6 }, async (_, client) => {
        for (let round = 0; round < 15; round += 1) {
          await new Promise<void>((resolve) => simulation.schedule(simulation.random.int(0, 6), resolve));
          const node = simulation.random.pick(nodes);
          const key = simulation.random.pick(['a', 'b']);
          if (simulation.random.bool()) {
            const value = simulation.random.int(0, 1000);
            const operation = history.invoke(client, 'put', { key, value });
            await node.cluster.setClusterWide(['limits', key], value);
            history.ok(operation);
          } else {
            const operation = history.invoke(client, 'get', { key });
            history.ok(operation, await node.cluster.getWithConsensus(`limits.${key}`));
          }
        }
      });
      let done = false;
      void Promise.all(clients).then(() => (done = true));
      await simulation.runUntilAsync(() => done, { maxTime: 60_000 });
      // The initial values are part of the register: model them as writes before everything.
      const initial = [
        { type: 'invoke', process: 'init', f: 'put', key: 'a', value: 0 },
        { type: 'ok', process: 'init', f: 'put', key: 'a' },
        { type: 'invoke', process: 'init', f: 'put', key: 'b', value: 0 },
        { type: 'ok', process: 'init', f: 'put', key: 'b' },
      ] as const;
      const result = checkLinearizability([...initial, ...history.events()], kvModel());
      expect({ seed, valid: result.valid, explanation: 'explanation' in result ? result.explanation : '' }).toEqual({ seed, valid: true, explanation: '' });
      simulation.runFor(100); // let every replica apply everything
      expect(nodes[1]!.config.get()).toEqual(nodes[0]!.config.get());
      expect(nodes[2]!.config.get()).toEqual(nodes[0]!.config.get());
      expect(reported).toEqual([]);
    });
  }

  it('plain local reads on a lagging replica are not linearizable: the checker above has teeth (seed=11)', async () => {
    const simulation = createSimulation({ seed: 11 });
    const { nodes } = cluster(simulation, 3);
    const history = createHistoryRecorder();
    const writer = history.invoke('writer', 'put', { key: 'a', value: 5 });
    let written = false;
    void nodes[0]!.cluster.setClusterWide(['limits', 'a'], 5).then(() => {
      history.ok(writer);
      written = true;
    });
    await simulation.runUntilAsync(() => written);
    // The write is acknowledged; replica 2 (the laggiest) has not applied it yet.
    const stale = history.invoke('reader', 'get', { key: 'a' });
    history.ok(stale, nodes[2]!.config.get('limits.a'));
    const consistent = history.invoke('reader-2', 'get', { key: 'a' });
    let value: unknown;
    void nodes[2]!.cluster.getWithConsensus('limits.a').then((read) => (value = read));
    await simulation.runUntilAsync(() => value !== undefined);
    history.ok(consistent, value);
    expect(value).toBe(5);
    const initial = [
      { type: 'invoke', process: 'init', f: 'put', key: 'a', value: 0 },
      { type: 'ok', process: 'init', f: 'put', key: 'a' },
    ] as const;
    expect(checkLinearizability([...initial, ...history.events()], kvModel()).valid).toBe(false);
  });

  it('refuses a forbidden, invalid or unsafe cluster-wide value locally, before it enters the log', async () => {
    const simulation = createSimulation({ seed: 4 });
    const { log, nodes } = cluster(simulation, 2);
    const codes: number[] = [];
    for (const [path, value] of [
      [['name'], 'x'],
      [['limits', 'a'], -1],
      [['limits', 'a'], 'many'],
      [['__proto__', 'polluted'], true],
    ] as const) {
      await nodes[0]!.cluster.setClusterWide(path, value).catch((error: unknown) => codes.push((error as FoundationError).code));
    }
    expect(codes).toEqual([1401, 1203, 1201, 5401]);
    expect(log.length()).toBe(0);
  });

  it('every replica checks applied commands again: a hostile command never pollutes and is reported', async () => {
    const simulation = createSimulation({ seed: 5 });
    const { nodes, reported } = cluster(simulation, 2);
    void nodes[0]!.port.append({ type: 'config-set', path: ['constructor', 'prototype', 'polluted'], value: true });
    void nodes[0]!.port.append({ type: 'config-set', path: ['limits'], value: JSON.parse('{"__proto__": {"polluted": true}}') as unknown });
    simulation.runFor(100);
    expect(reported.map((error) => error.code)).toEqual([5401, 5401, 5401, 5401]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(nodes[0]!.config.status().updateCount).toBe(0);
    expect(nodes[1]!.port.appliedIndex()).toBe(2);
  });
});
