// The fault schedule: which faults, on whom, when and for how long, drawn from a seeded Random
// before the run starts. The same seed gives the same schedule; only "the leader" is resolved
// when the fault starts (the report names the node it turned out to be).
import { createSeededRandom } from '@foundation/core';
import type { Random } from '@foundation/core';

export type FaultKind = 'partition' | 'partition-one-way' | 'partition-flapping' | 'kill' | 'pause';

export const FAULT_KINDS: readonly FaultKind[] = ['partition', 'partition-one-way', 'partition-flapping', 'kill', 'pause'];

/**
 * Whom a fault hits. `leader`: the Raft leader when the fault starts (for a partition: the
 * leader alone on one side). `node`: one node. `split`: two sides of a partition; for a one-way
 * partition, packets from `sides[0]` to `sides[1]` are lost and the other direction flows.
 */
export type FaultTarget =
  | { readonly kind: 'leader' }
  | { readonly kind: 'node'; readonly node: string }
  | { readonly kind: 'split'; readonly sides: readonly [readonly string[], readonly string[]] };

export interface PlannedFault {
  readonly kind: FaultKind;
  readonly target: FaultTarget;
  /** Start, ms after the workload began. */
  readonly atMs: number;
  readonly durationMs: number;
  /** For flapping partitions: how long each on and each off phase lasts. */
  readonly flapMs?: number;
}

export interface ScheduleOptions {
  readonly seed: number | string;
  /** Names of the nodes. */
  readonly nodes: readonly string[];
  /** How long faults may run, ms (the last fault ends by then). */
  readonly durationMs: number;
  /** Quiet time before the first fault, ms. Default 2,000. */
  readonly warmupMs?: number;
  /** Kinds to draw from. Default all. */
  readonly kinds?: readonly FaultKind[];
}

function drawTarget(random: Random, kind: FaultKind, nodes: readonly string[]): FaultTarget {
  if (random.bool(0.4)) return { kind: 'leader' };
  if (kind === 'kill' || kind === 'pause') return { kind: 'node', node: random.pick(nodes) };
  // A minority on one side (1 to half of the nodes), the rest on the other; which side loses
  // its packets in a one-way partition is drawn too.
  const minority = random.sample(nodes, random.int(1, Math.floor(nodes.length / 2) + 1)).sort();
  const majority = nodes.filter((node) => !minority.includes(node));
  return { kind: 'split', sides: random.bool() ? [minority, majority] : [majority, minority] };
}

function drawDuration(random: Random, kind: FaultKind): number {
  switch (kind) {
    case 'partition-flapping':
      return random.int(4_000, 10_001);
    case 'pause':
      return random.int(1_000, 7_001);
    default:
      return random.int(2_000, 8_001);
  }
}

/** A seeded sequence of faults, one at a time with quiet gaps between them. */
export function planFaults(options: ScheduleOptions): PlannedFault[] {
  const random = createSeededRandom(options.seed).fork('faults');
  const kinds = options.kinds ?? FAULT_KINDS;
  if (kinds.length === 0) throw new RangeError('no fault kinds to draw from');
  if (options.nodes.length < 2) throw new RangeError('faults need at least two nodes');
  const faults: PlannedFault[] = [];
  let at = options.warmupMs ?? 2_000;
  for (;;) {
    const kind = random.pick(kinds);
    const durationMs = drawDuration(random, kind);
    if (at + durationMs > options.durationMs) break;
    const target = drawTarget(random, kind, options.nodes);
    faults.push({ kind, target, atMs: at, durationMs, ...(kind === 'partition-flapping' ? { flapMs: random.int(200, 1_201) } : {}) });
    at += durationMs + random.int(1_000, 4_001);
  }
  return faults;
}

/**
 * The bounded schedule CI runs: a pause, a partition (symmetric, one-way or flapping, drawn from
 * the seed), then a SIGKILL and restart, on targets and with durations drawn from the seed;
 * about 10–14 s of faults. The order is fixed so the run fits its time budget: nodes cut off
 * by a pause or a partition are tombstoned by the full mesh for 10 s (local preset), which
 * has passed by the time the kill, the restart and the final reads are over; the restarted
 * node rejoins by direct contact at once.
 */
export function planBoundedFaults(options: { readonly seed: number | string; readonly nodes: readonly string[] }): PlannedFault[] {
  const random = createSeededRandom(options.seed).fork('bounded');
  const kinds: FaultKind[] = ['pause', random.pick<FaultKind>(['partition', 'partition-one-way', 'partition-flapping']), 'kill'];
  const faults: PlannedFault[] = [];
  let at = 1_000;
  for (const kind of kinds) {
    const durationMs = kind === 'pause' ? random.int(1_500, 2_501) : kind === 'partition-flapping' ? random.int(3_000, 4_001) : random.int(2_000, 3_501);
    const target = drawTarget(random, kind, options.nodes);
    faults.push({ kind, target, atMs: at, durationMs, ...(kind === 'partition-flapping' ? { flapMs: random.int(300, 701) } : {}) });
    at += durationMs + random.int(1_000, 2_001);
  }
  return faults;
}

export function describeTarget(target: FaultTarget, arrow = false): string {
  switch (target.kind) {
    case 'leader':
      return 'leader';
    case 'node':
      return target.node;
    case 'split':
      return `${target.sides[0].join(',')} ${arrow ? '→' : '|'} ${target.sides[1].join(',')}`;
  }
}
