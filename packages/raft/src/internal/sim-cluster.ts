// A Raft cluster inside testkit's simulation, with a client workload recording a history, a
// nemesis injecting faults, and Raft's safety properties checked while it runs:
//   election safety (at most one leader per term), log matching, leader completeness and state
//   machine safety (no two nodes apply different commands at one index).
// Afterwards the history is checked for linearizability with testkit's checker.
import { checkLinearizability, createHistoryRecorder, createSimulation, kvModel } from '@foundation/testkit';
import type { CheckResult, HistoryEvent, SimNode, Simulation } from '@foundation/testkit';
import type { Random } from '@foundation/core';
import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from '../errors/codes';
import { createRaftNode } from '../driver/raft-node';
import type { RaftNode } from '../driver/raft-node';
import { createKvStateMachine } from '../kv/kv-state-machine';
import type { KvCommand, KvQuery, KvQueryResult, KvResult } from '../kv/kv-state-machine';
import { createSimPersistence } from './sim-persistence';
import type { Entry } from '../core/types';

export type KvNode = RaftNode<KvCommand, KvResult, KvQuery, KvQueryResult>;

export interface SimClusterOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly clients?: number;
  readonly keys?: number;
  /** Simulated duration of the faulty phase, ms. */
  readonly durationMs?: number;
  /** Enable the nemesis (partitions, crashes, loss, duplication, reordering, skew). */
  readonly faults?: boolean;
  /** Exercise membership changes under load (a node is removed and added back as learner then voter). */
  readonly membershipChanges?: boolean;
  readonly snapshotEvery?: number;
}

export interface SimClusterReport {
  readonly seed: number;
  readonly operations: number;
  readonly acknowledgedWrites: number;
  readonly check: CheckResult;
  readonly faults: readonly string[];
  readonly leaders: number;
  readonly events: number;
  readonly simulatedMs: number;
  /**
   * Messages the nodes' wires refused, over every node and every restart of it. The nodes are
   * all honest, so any refused message is one the wire's checks wrongly take for a lie.
   */
  readonly invalidMessages: number;
}

interface Invariants {
  readonly leaderOfTerm: Map<number, string>;
  /** The command applied at each index by whichever node applied it first. */
  readonly applied: Map<number, string>;
}

const TICK_MS = 10;

export async function runSimCluster(options: SimClusterOptions): Promise<SimClusterReport> {
  const simulation = createSimulation({ seed: options.seed, network: { latency: { min: 0.2, max: 3 }, failureDetectionMs: 100 } });
  const ids = Array.from({ length: options.nodes }, (_, index) => `n${index + 1}`);
  const raft = new Map<string, KvNode>();
  const invariants: Invariants = { leaderOfTerm: new Map(), applied: new Map() };
  const faults: string[] = [];
  /** Every node ever started, crashed ones too: their counters add up over restarts. */
  const started: KvNode[] = [];

  const live = (): [string, KvNode][] => [...raft.entries()].filter(([id]) => simulation.node(id).up);
  let violation: string | null = null;
  simulation.addInvariant('election safety: at most one leader per term', () => violation ?? true);
  // Leader completeness, checked the moment a node becomes leader: its log holds every entry
  // committed anywhere so far (all of them committed in earlier terms).
  const checkedLeader = new Map<string, number>();
  simulation.addInvariant('leader completeness', () => {
    for (const [id, node] of live()) {
      const core = coreOf(node);
      if (core === null || core.role !== 'leader' || checkedLeader.get(id) === core.term) continue;
      checkedLeader.set(id, core.term);
      for (const [otherId, other] of live()) {
        const otherCore = coreOf(other);
        if (otherCore === null || otherId === id) continue;
        const first = Math.max(otherCore.log.firstIndex(), core.log.firstIndex());
        for (let index = first; index <= otherCore.log.committed; index += 1) {
          const committedTerm = otherCore.log.term(index);
          const heldTerm = core.log.term(index);
          if (committedTerm === null || heldTerm === null) continue;
          if (committedTerm !== heldTerm) return `leader ${id} (term ${core.term}) holds term ${heldTerm} at ${index}, where ${otherId} committed term ${committedTerm}`;
        }
      }
    }
    return true;
  });
  const watchLeaders = (id: string, node: KvNode): void => {
    node.on('leader-change', ({ role, term }) => {
      if (role !== 'leader') return;
      const known = invariants.leaderOfTerm.get(term);
      if (known === undefined) invariants.leaderOfTerm.set(term, id);
      else if (known !== id) violation = `${known} and ${id} both lead term ${term}`;
    });
  };

  for (const id of ids) {
    const random = simulation.random.fork(`skew-${id}`);
    simulation.addNode(id, {
      clockSkewMs: options.faults === true ? random.int(0, 200) : 0,
      driftPpm: options.faults === true ? random.int(-300, 300) : 0,
      start: (context) => {
        const machine = createKvStateMachine();
        const recording = {
          ...machine,
          apply(command: KvCommand, index: number): KvResult {
            const text = JSON.stringify(command);
            const first = invariants.applied.get(index);
            if (first === undefined) invariants.applied.set(index, text);
            else if (first !== text) throw new Error(`state machine safety: ${id} applied ${text} at ${index} where another node applied ${first}`);
            return machine.apply(command, index);
          },
        };
        const node = createRaftNode({
          id,
          peers: ids,
          persistence: createSimPersistence(context.durable, context.clock, context.random, { syncMs: { min: 1, max: 8 } }),
          transport: context.transport,
          stateMachine: recording,
          clock: context.clock,
          random: context.random,
          tickMs: TICK_MS,
          snapshotEvery: options.snapshotEvery ?? 200,
          snapshotChunkBytes: 256,
          requestTimeoutMs: 1000,
        });
        raft.set(id, node);
        started.push(node);
        watchLeaders(id, node);
        node.start().catch((error: unknown) => {
          throw error;
        });
      },
    });
  }

  // Let the cluster come up.
  await simulation.runUntilAsync(() => live().some(([, node]) => safeRole(node) === 'leader'), { maxTime: 10_000 });

  const history = createHistoryRecorder();
  const workload = startWorkload(simulation, raft, history, options, ids);
  const nemesis = options.faults === true || options.membershipChanges === true ? startNemesis(simulation, raft, ids, faults, options) : null;
  const checker = simulation.clock.setRepeatingTimer(97, () => checkLogs(raft, live));

  await simulation.runForAsync(options.durationMs ?? 5000);
  nemesis?.stop();
  workload.stop();
  simulation.network.heal();
  simulation.network.configure({ dropRate: 0, duplicateRate: 0, reorderRate: 0 });
  for (const id of ids) if (!simulation.node(id).up) simulation.restart(id);
  faults.push(`${Math.round(simulation.now())}ms heal and restart everything`);
  // Quiesce: let in-flight operations finish or time out, and every node catch up.
  await simulation.runForAsync(3000);
  checker.cancel();
  checkLogs(raft, live);
  await finalReads(simulation, raft, history, options.keys ?? 4, ids);

  const events = history.events();
  const check = checkLinearizability(events, kvModel());
  return {
    seed: options.seed,
    operations: events.filter((event) => event.type === 'invoke').length,
    acknowledgedWrites: events.filter((event) => event.type === 'ok' && event.f !== 'get').length,
    check,
    faults,
    leaders: invariants.leaderOfTerm.size,
    events: simulation.stats().events,
    simulatedMs: simulation.now(),
    invalidMessages: started.reduce((sum, node) => sum + node.stats().invalidMessages, 0),
  };
}

interface CoreView {
  readonly role: string;
  readonly term: number;
  readonly log: { firstIndex(): number; lastIndex(): number; committed: number; term(index: number): number | null; slice(a: number, b: number, m: number): Entry[] | null };
}

/** The node's core, for invariant checks that must see its state between events. */
function coreOf(node: KvNode): CoreView | null {
  return (node as unknown as { core: CoreView | null }).core;
}

function safeRole(node: KvNode): string | null {
  try {
    return node.status().role;
  } catch {
    return null;
  }
}

/** Log matching and leader completeness over every live node's log. */
function checkLogs(raft: Map<string, KvNode>, live: () => [string, KvNode][]): void {
  const logs: { id: string; entries: Map<number, Entry>; commit: number; role: string; term: number }[] = [];
  for (const [id, node] of live()) {
    let status;
    try {
      status = node.status();
    } catch {
      continue;
    }
    const entries = new Map<number, Entry>();
    const log = coreOf(node)!.log;
    for (const entry of log.slice(log.firstIndex(), log.lastIndex() + 1, Number.POSITIVE_INFINITY) ?? []) entries.set(entry.index, entry);
    logs.push({ id, entries, commit: status.commit, role: status.role, term: status.term });
  }
  // Log matching: if two logs hold an entry with the same index and term, they are identical in
  // every entry up to that index.
  for (let a = 0; a < logs.length; a += 1) {
    for (let b = a + 1; b < logs.length; b += 1) {
      const first = logs[a]!;
      const second = logs[b]!;
      const common = [...first.entries.keys()].filter((index) => second.entries.has(index));
      const matching = common.filter((index) => first.entries.get(index)!.term === second.entries.get(index)!.term);
      const highest = matching.length === 0 ? 0 : Math.max(...matching);
      for (const index of common) {
        if (index > highest) continue;
        if (entryKey(first.entries.get(index)!) !== entryKey(second.entries.get(index)!)) {
          throw new Error(`log matching: ${first.id} and ${second.id} agree at ${highest} but differ at ${index}`);
        }
      }
    }
  }
}

function entryKey(entry: Entry): string {
  return entry.kind === 'normal' ? `n:${entry.term}:${Buffer.from(entry.data).toString('base64')}` : `m:${entry.term}:${JSON.stringify(entry.change)}`;
}

interface Workload {
  stop(): void;
}

function outcome(error: unknown): 'fail' | 'info' {
  if (!FoundationError.is(error)) return 'info';
  return error.code === RAFT_ERROR_CODES.notLeader || error.code === RAFT_ERROR_CODES.dropped ? 'fail' : 'info';
}

function startWorkload(
  simulation: Simulation,
  raft: Map<string, KvNode>,
  history: ReturnType<typeof createHistoryRecorder>,
  options: SimClusterOptions,
  ids: readonly string[],
): Workload {
  const random = simulation.random.fork('workload');
  const keys = options.keys ?? 4;
  let running = true;
  let nextProcess = 0;
  let nextValue = 1;
  const client = (slot: number): void => {
    let process = nextProcess++;
    let target = ids[slot % ids.length]!;
    const loop = (): void => {
      if (!running) return;
      const node = raft.get(target);
      const key = `k${random.int(0, keys)}`;
      const roll = random.float();
      const done = (): void => {
        simulation.clock.setTimer(random.float() * 20, loop);
      };
      if (node === undefined || !simulation.node(target).up) {
        target = random.pick(ids);
        done();
        return;
      }
      let pending: Promise<unknown>;
      let operation: ReturnType<typeof history.invoke>;
      let okValue: (result: unknown) => unknown = () => undefined;
      if (roll < 0.4) {
        const value = nextValue++;
        operation = history.invoke(process, 'put', { key, value });
        pending = node.propose({ op: 'put', key, value });
      } else if (roll < 0.6) {
        const expected = random.int(0, nextValue);
        const value = nextValue++;
        operation = history.invoke(process, 'cas', { key, value: [expected, value] });
        pending = node.propose({ op: 'cas', key, expected, value }).then((result) => {
          if (result.op === 'cas' && !result.ok) throw Object.assign(new Error('cas did not apply'), { casFailed: true });
          return result;
        });
      } else {
        operation = history.invoke(process, 'get', { key });
        pending = node.read({ op: 'get', key });
        okValue = (result) => result;
      }
      const clientTimeout = new Promise<'timeout'>((resolve) => simulation.clock.setTimer(1500, () => resolve('timeout')));
      Promise.race([pending, clientTimeout]).then(
        (result) => {
          if (result === 'timeout') {
            history.info(operation);
            process = nextProcess++;
          } else {
            history.ok(operation, okValue(result));
          }
          done();
        },
        (error: unknown) => {
          if ((error as { casFailed?: boolean }).casFailed === true) {
            history.fail(operation);
          } else {
            const kind = outcome(error);
            if (kind === 'fail') history.fail(operation);
            else {
              history.info(operation);
              process = nextProcess++;
            }
            if (FoundationError.is(error) && error.code === RAFT_ERROR_CODES.notLeader) {
              const hint = (error.context as { leaderHint?: string | null }).leaderHint;
              target = hint ?? random.pick(ids);
            } else {
              target = random.pick(ids);
            }
          }
          done();
        },
      );
    };
    simulation.clock.setTimer(random.float() * 10, loop);
  };
  for (let slot = 0; slot < (options.clients ?? 6); slot += 1) client(slot);
  return {
    stop: () => {
      running = false;
    },
  };
}

interface Nemesis {
  stop(): void;
}

function startNemesis(simulation: Simulation, raft: Map<string, KvNode>, ids: readonly string[], faults: string[], options: SimClusterOptions): Nemesis {
  const random: Random = simulation.random.fork('nemesis');
  const log = (text: string): void => {
    faults.push(`${Math.round(simulation.now())}ms ${text}`);
  };
  const node = (id: string): SimNode => simulation.node(id);
  const majority = Math.floor(ids.length / 2) + 1;
  let running = true;
  // Membership changes under load: remove a follower, add it back as a learner, then as a voter.
  let membership: { node: string; stage: 'removed' | 'learner' } | null = null;
  let changing = false;
  const changeMembership = (): void => {
    const leaderId = ids.find((id) => node(id).up && safeRole(raft.get(id)!) === 'leader');
    if (leaderId === undefined || changing) return;
    const leader = raft.get(leaderId)!;
    const current = membership;
    changing = true;
    let action: Promise<unknown>;
    let next: typeof membership;
    if (current === null) {
      const victim = random.pick(ids.filter((id) => id !== leaderId));
      action = leader.removeMember(victim);
      next = { node: victim, stage: 'removed' };
      log(`remove ${victim} (via ${leaderId})`);
    } else if (current.stage === 'removed') {
      action = leader.addLearner(current.node);
      next = { node: current.node, stage: 'learner' };
      log(`add learner ${current.node} (via ${leaderId})`);
    } else {
      action = leader.addVoter(current.node);
      next = null;
      log(`add voter ${current.node} (via ${leaderId})`);
    }
    action.then(
      () => {
        membership = next;
        changing = false;
      },
      (error: unknown) => {
        log(`membership change failed: ${error instanceof Error ? error.message : String(error)}`);
        changing = false;
      },
    );
  };
  const step = (): void => {
    if (!running) return;
    if (options.membershipChanges === true && random.bool(options.faults === true ? 0.2 : 0.6)) {
      changeMembership();
      simulation.clock.setTimer(100 + random.float() * 600, step);
      return;
    }
    if (options.faults !== true) {
      simulation.clock.setTimer(100 + random.float() * 600, step);
      return;
    }
    const roll = random.float();
    if (roll < 0.2) {
      const shuffled = random.shuffle(ids);
      const cut = random.int(1, ids.length);
      simulation.network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
      log(`partition ${shuffled.slice(0, cut).join(',')} | ${shuffled.slice(cut).join(',')}`);
    } else if (roll < 0.3) {
      const shuffled = random.shuffle(ids);
      const cut = random.int(1, ids.length);
      simulation.network.partition([shuffled.slice(0, cut), shuffled.slice(cut)], { oneWay: true });
      log(`one-way partition ${shuffled.slice(0, cut).join(',')} -> ${shuffled.slice(cut).join(',')}`);
    } else if (roll < 0.4 && ids.length >= 3) {
      const shuffled = random.shuffle(ids);
      const bridge = shuffled[0]!;
      const half = Math.floor((ids.length - 1) / 2);
      const left = shuffled.slice(1, 1 + half);
      const right = shuffled.slice(1 + half);
      simulation.network.partition([
        [bridge, ...left],
        [bridge, ...right],
      ]);
      log(`bridge through ${bridge}: ${left.join(',')} | ${right.join(',')}`);
    } else if (roll < 0.45) {
      // A power failure: a majority (sometimes everyone) goes down at once and comes back one
      // by one. Whatever was acknowledged must survive it.
      const up = ids.filter((id) => node(id).up);
      const victims = random.shuffle(up).slice(0, random.bool(0.5) ? up.length : Math.min(up.length, majority));
      for (const victim of victims) {
        simulation.crash(victim);
        simulation.clock.setTimer(50 + random.float() * 450, () => {
          if (!node(victim).up) simulation.restart(victim);
        });
      }
      log(`power failure: ${victims.join(',')} down`);
    } else if (roll < 0.6) {
      const down = ids.filter((id) => !node(id).up).length;
      const candidates = ids.filter((id) => node(id).up);
      if (candidates.length > 0 && ids.length - down - 1 >= majority - 1) {
        const victim = random.pick(candidates);
        simulation.crash(victim);
        log(`crash ${victim}`);
      }
    } else if (roll < 0.75) {
      const down = ids.filter((id) => !node(id).up);
      if (down.length > 0) {
        const back = random.pick(down);
        simulation.restart(back);
        log(`restart ${back}`);
      }
    } else if (roll < 0.85) {
      const loss = random.float() * 0.2;
      simulation.network.configure({ dropRate: loss, duplicateRate: random.float() * 0.1, reorderRate: random.float() * 0.2 });
      log(`lossy network: drop ${loss.toFixed(2)}, duplicates and reordering`);
    } else {
      simulation.network.heal();
      simulation.network.configure({ dropRate: 0, duplicateRate: 0, reorderRate: 0 });
      log('heal');
    }
    simulation.clock.setTimer(100 + random.float() * 600, step);
  };
  simulation.clock.setTimer(200, step);
  return {
    stop: () => {
      running = false;
    },
  };
}

async function finalReads(
  simulation: Simulation,
  raft: Map<string, KvNode>,
  history: ReturnType<typeof createHistoryRecorder>,
  keys: number,
  ids: readonly string[],
): Promise<void> {
  const leaderId = (): string | undefined => ids.find((id) => simulation.node(id).up && safeRole(raft.get(id)!) === 'leader');
  await simulation.runUntilAsync(() => leaderId() !== undefined, { maxTime: 10_000 });
  const process = 'final-reader';
  for (let key = 0; key < keys; key += 1) {
    const operation = history.invoke(process, 'get', { key: `k${key}` });
    let value: unknown;
    let done = false;
    let failed = false;
    raft
      .get(leaderId()!)!
      .read({ op: 'get', key: `k${key}` })
      .then(
        (result) => {
          value = result;
          done = true;
        },
        () => {
          failed = true;
          done = true;
        },
      );
    await simulation.runUntilAsync(() => done, { maxTime: 10_000 });
    if (failed) throw new Error(`the final read of k${key} failed on a healed cluster`);
    history.ok(operation, value);
  }
}

export function describeFailure(report: SimClusterReport): string {
  const lines = [`seed=${report.seed}: ${report.operations} operations, ${report.acknowledgedWrites} acknowledged writes, ${report.leaders} terms with a leader`];
  if (report.check.valid === false) {
    lines.push(report.check.explanation, 'minimal failing history:', ...report.check.minimal.map((event: HistoryEvent) => `  ${JSON.stringify(event)}`));
  }
  lines.push('faults:', ...report.faults.map((fault) => `  ${fault}`));
  return lines.join('\n');
}
