// A follower that installs a Raft snapshot while one of its own global names was claimed and
// released in the part of the log it missed. The registry stream is compacted as startNode
// compacts it, so the snapshot holds neither the claim nor its release: the replay never
// mentions the name again. Found in review: the follower kept the claim as its own, kept
// monitoring the process, and never emitted `global-release`. And a follower whose global names
// keep their holders through the snapshot: its watchers must hear nothing of them.
//
// Two cluster consensus nodes (real Raft, the real cluster state machine) on testkit's simulated
// network and clock; a real process runtime behind the registry's monitor port. Forwarded
// proposals go straight to the leader's handler, so a cut on the network stops only Raft's own
// messages: the follower's append reaches the log while the follower stops applying it.
import { afterEach, describe, expect, it } from '@jest/globals';
import { Pid, createRuntime } from '@foundation/process';
import type { Runtime } from '@foundation/process';
import { DEFAULT_LIMITS, compactRegistryCommands, createRegistry } from '@foundation/registry';
import type { Registry, RegistryCommand } from '@foundation/registry';
import { createSimulation } from '@foundation/testkit';
import type { SimNode, Simulation } from '@foundation/testkit';
import type { ClusterConsensus, ConsensusLog } from '../src/consensus/cluster-consensus';
import { runtimeMonitor } from '../src/wiring/adapters';
import { createSnapshottingConsensus, settle, startLeaderThenFollower } from './support/simulated-consensus';
import type { ForwardHandler } from './support/simulated-consensus';

const NAMESPACE = 'production';

interface Member {
  readonly consensus: ClusterConsensus;
  readonly log: ConsensusLog<RegistryCommand>;
  readonly registry: Registry<unknown>;
  readonly runtime: Runtime;
  readonly releases: string[];
}

const stoppers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stoppers.splice(0)) await stop();
});

function createMember(node: SimNode, handlers: Map<string, ForwardHandler>): Member {
  const consensus = createSnapshottingConsensus(node, handlers);
  // The registry stream as startNode declares it: compacted to the names held and the floors.
  const log = consensus.log<RegistryCommand>('registry', { retain: { compact: (history) => compactRegistryCommands(history, NAMESPACE, DEFAULT_LIMITS) } });
  const runtime = createRuntime({ nodeId: node.id, clock: node.clock });
  const registry = createRegistry<unknown>({
    nodeId: node.id,
    namespace: NAMESPACE,
    clock: node.clock,
    random: node.random,
    consensusLog: log,
    consensusTimeoutMs: 1_000,
    monitor: runtimeMonitor(runtime),
    monitorTargets: (target) => Pid.is(target),
  });
  const releases: string[] = [];
  registry.on('global-release', ({ instance }) => releases.push(`${instance.name} ${instance.id}`));
  stoppers.push(async () => {
    registry.close();
    await consensus.stop();
    await runtime.shutdown();
  });
  return { consensus, log, registry, runtime, releases };
}

/** A leader elected, and a second member joined to it as a learner. */
async function leaderAndLearner(seed: number): Promise<{ simulation: Simulation; leader: Member; follower: Member }> {
  const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
  const handlers = new Map<string, ForwardHandler>();
  const leader = createMember(simulation.addNode('leader'), handlers);
  const follower = createMember(simulation.addNode('follower'), handlers);
  await startLeaderThenFollower(simulation, leader.consensus, follower.consensus);
  return { simulation, leader, follower };
}

/** `rounds` global names claimed and released by `member`, one after the other. */
async function churn(simulation: Simulation, member: Member, rounds: number, prefix: string): Promise<void> {
  for (let round = 0; round < rounds; round += 1) {
    const filler = await settle(simulation, member.registry.registerGlobal(`${prefix}-${round}`, 'leader'));
    await settle(simulation, filler.release());
  }
}

describe('a follower that installs a snapshot without its own claim and that claim\'s release', () => {
  it('lets the name go: global-release is emitted and the process is no longer monitored', async () => {
    const { simulation, leader, follower } = await leaderAndLearner(4_701);
    // Registry traffic before the claim: the stream compacts once it holds 256 commands.
    await churn(simulation, leader, 100, 'before');

    const worker = follower.runtime.spawn({ handleMessage: () => undefined });
    const claim = await settle(simulation, follower.registry.registerGlobal('lock', worker));
    expect(follower.runtime.processInfo(worker)?.monitoredBy).toBe(1);

    // The follower stops hearing the leader; its release still reaches the log (the call then
    // times out waiting to see it applied here).
    simulation.network.cut('leader', 'follower');
    await settle(simulation, claim.release({ timeoutMs: 500 }).catch(() => 'not applied here'));
    expect(follower.registry.find('lock')?.id).toBe(claim.id); // it missed its own release
    const heard: string[] = [];
    follower.log.onApplied(({ command }) => {
      if (command.type === 'registry-claim') heard.push(command.claim.id as string);
    });
    // The stream compacts the claim and its release away, and the leader snapshots after that.
    await churn(simulation, leader, 300, 'after');

    simulation.network.heal();
    await simulation.runUntilAsync(() => follower.consensus.raft.stats().snapshotsInstalled > 0 && follower.consensus.stateMachine.appliedIndex() === leader.consensus.stateMachine.appliedIndex());
    expect(heard).not.toContain(claim.id); // the snapshot no longer holds the claim
    expect(follower.registry.find('lock')).toBeUndefined();
    expect(follower.releases).toEqual([`lock ${claim.id}`]);
    expect(follower.runtime.processInfo(worker)?.monitoredBy).toBe(0);

    // Another node takes the name; the old holder's process exiting must not take it away.
    const next = await settle(simulation, leader.registry.registerGlobal('lock', 'leader'));
    follower.runtime.exit(worker, 'kill');
    await simulation.runForAsync(2_000);
    for (const member of [leader, follower]) expect(member.registry.find('lock')?.id).toBe(next.id);
  });
});

describe('a follower that installs a snapshot in which its global names keep their holders', () => {
  it('tells its watchers nothing of those names (review finding)', async () => {
    // Before, the restore took every global name out of the follower's view and the replay put
    // them back: a watcher heard each go down and come up again.
    const { simulation, leader, follower } = await leaderAndLearner(4_702);

    const theirs = await settle(simulation, leader.registry.registerGlobal('theirs', 'leader'));
    const worker = follower.runtime.spawn({ handleMessage: () => undefined });
    const mine = await settle(simulation, follower.registry.registerGlobal('mine', worker));
    await simulation.runUntilAsync(() => follower.registry.find('theirs') !== undefined);
    const heard: string[] = [];
    follower.registry.watch({ scope: 'global', health: 'any' }, (event) => {
      if (event.instance.name === 'theirs' || event.instance.name === 'mine') heard.push(`${event.type} ${event.instance.name}`);
    });

    simulation.network.cut('leader', 'follower');
    await churn(simulation, leader, 300, 'filler');
    simulation.network.heal();
    await simulation.runUntilAsync(() => follower.consensus.raft.stats().snapshotsInstalled > 0 && follower.consensus.stateMachine.appliedIndex() === leader.consensus.stateMachine.appliedIndex());

    expect(heard).toEqual([]);
    expect(follower.registry.find('theirs')?.id).toBe(theirs.id);
    expect(follower.registry.find('mine')?.id).toBe(mine.id);
    expect(follower.runtime.processInfo(worker)?.monitoredBy).toBe(1);
    expect(follower.releases).toEqual([]);
  });
});
