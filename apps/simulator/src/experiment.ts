// The HyParView paper's failure experiment (§5, "reliability after failures with healing"), run
// through the real membership driver on simulated nodes:
// 1. every node joins through a random earlier node, then the overlay stabilises for a few rounds;
// 2. for each failure rate, a fresh simulation restores the stable overlay's views, that share of
//    the nodes crashes at once, and probe broadcasts are sent right away and after the chosen
//    healing rounds; a probe's reliability is the share of live nodes that delivered it one round
//    after it was sent, and the overlay's health is taken when it is sent.
import { defaultLocalConfig, resolveConfig, sizeViews } from '@foundation/membership-hyparview';
import type { InitialView, MembershipConfig } from '@foundation/membership-hyparview';
import type { NetworkOptions } from '@foundation/testkit';
import { crashedNodes } from './arguments';
import type { SimulatorArguments } from './arguments';
import { createCluster } from './cluster';
import type { Cluster, MessageCounts, ProbeRecord } from './cluster';
import { overlayHealth } from './overlay-health';
import type { OverlayHealth } from './overlay-health';

/** One membership round: the shuffle period. */
export const ROUND_MS = 1_000;
/** Node i starts joining at i · JOIN_SPACING_MS. */
export const JOIN_SPACING_MS = 0.5;
/** Virtual time a restored cluster runs before the crash, for the restored links to come up. */
const SETTLE_MS = 500;
/** Progress is reported after each slice of virtual time. */
const SLICE_MS = 250;

export const NETWORK: NetworkOptions & { readonly latency: { readonly min: number; readonly max: number }; readonly failureDetectionMs: number } = {
  latency: { min: 2, max: 10 },
  // The simulated transport reports a crashed neighbour as peer-down after this long, as a
  // real transport's connection loss or heartbeats would.
  failureDetectionMs: 300,
  // Sizes only feed byte counters here; a constant keeps 10,000 nodes fast.
  sizeOf: () => 64,
};

/**
 * The membership configuration of the runs: the paper's parameters (view sizes from the cluster
 * size as §5 sizes them; ARWL 6, PRWL 3, shuffle 3 + 4 from the defaults), one shuffle per round,
 * timeouts fit for the simulated 2–10 ms links, heartbeats off (the simulated transport detects
 * failures), IHAVE sent at once and no anti-entropy, so that what is measured is the overlay's
 * own healing rather than a later repair. No periodic rejoin through the seeds either (nor the
 * cluster-size estimation that sets its rate): it serves overlays formed apart, which these runs
 * never have, and is not part of the paper's protocols.
 */
export function simulationConfig(nodes: number): MembershipConfig {
  const views = sizeViews(nodes);
  return resolveConfig(
    {
      hyparview: {
        activeViewSize: views.activeViewSize,
        passiveViewSize: views.passiveViewSize,
        shuffleIntervalMs: ROUND_MS,
        // The paper's shuffle replies, straight to the origin (the presets send them back along the walk).
        shuffleReplyRoute: 'direct',
        neighborRequestTimeoutMs: 400,
        joinRetryMs: 400,
        promotionBackoffInitialMs: 200,
        promotionBackoffMaxMs: 2_000,
      },
      plumtree: { ihaveTimeoutMs: 80, graftTimeoutMs: 40, lazyPushIntervalMs: 0, antiEntropyIntervalMs: 0 },
      failureDetection: { heartbeatIntervalMs: 0 },
      // The topology every node is started with, so that they can all share this config.
      topology: { mode: 'hyparview' },
      connectionLingerMs: ROUND_MS,
      seedRejoinIntervalMs: 0,
    },
    defaultLocalConfig(),
  );
}

export interface ProgressUpdate {
  readonly phase: string;
  readonly detail: string;
  /** Virtual time of the simulation running now. */
  readonly simulatedMs: number;
  readonly liveNodes: number;
  readonly nodes: number;
}

export type ProgressListener = (update: ProgressUpdate) => void;

export interface ProbeResult {
  readonly origin: string;
  readonly delivered: number;
  readonly live: number;
  readonly reliability: number;
  /** Highest hop count among the deliveries. */
  readonly lastHop: number;
}

export interface HealingPoint {
  /** Healing rounds between the crash and the broadcasts. */
  readonly round: number;
  /** Mean reliability of the broadcasts sent at this round. */
  readonly reliability: number;
  readonly broadcasts: readonly ProbeResult[];
  /** The overlay of the live nodes when the broadcasts were sent. */
  readonly overlay: OverlayHealth;
}

export interface MessageFigures {
  readonly membership: number;
  readonly broadcast: number;
  readonly total: number;
  /** Total divided by the live nodes. */
  readonly perLiveNode: number;
  /** Plumtree's own counters summed over the live nodes. */
  readonly plumtree: { readonly gossipSent: number; readonly ihaveSent: number; readonly graftsSent: number; readonly prunesSent: number; readonly duplicates: number };
  /** The simulated network's counters: handed to it, delivered, lost because the receiver had crashed. */
  readonly network: { readonly sent: number; readonly delivered: number; readonly droppedNodeDown: number };
}

export interface FailureResult {
  readonly rate: number;
  readonly crashed: number;
  readonly live: number;
  /** Mean reliability per healing round (keys are the rounds). */
  readonly reliability: Readonly<Record<string, number>>;
  readonly healing: readonly HealingPoint[];
  /** The overlay at the end of the run (one round after the last broadcasts). */
  readonly overlayAfterHealing: OverlayHealth;
  /** Messages sent from the crash to the end of the run. */
  readonly messages: MessageFigures;
  readonly simulatedMs: number;
}

export interface StableResult {
  /** Virtual time of the joins and the stabilisation rounds. */
  readonly simulatedMs: number;
  readonly overlay: OverlayHealth;
  /** One broadcast on the stable overlay, before any failure. */
  readonly probe: ProbeResult;
  readonly messages: MessageFigures;
}

export interface ExperimentResult {
  readonly config: MembershipConfig;
  readonly stable: StableResult;
  readonly failures: readonly FailureResult[];
}

function messageFigures(cluster: Cluster, counts: MessageCounts): MessageFigures {
  const network = cluster.simulation.network.stats();
  const total = counts.membership + counts.broadcast;
  const live = cluster.live().length;
  return {
    membership: counts.membership,
    broadcast: counts.broadcast,
    total,
    perLiveNode: live === 0 ? 0 : Number((total / live).toFixed(3)),
    plumtree: {
      gossipSent: cluster.plumtreeCounter('gossipSent'),
      ihaveSent: cluster.plumtreeCounter('ihaveSent'),
      graftsSent: cluster.plumtreeCounter('graftsSent'),
      prunesSent: cluster.plumtreeCounter('prunesSent'),
      duplicates: cluster.plumtreeCounter('duplicates'),
    },
    network: { sent: network.sent, delivered: network.delivered, droppedNodeDown: network.droppedBy.nodeDown },
  };
}

function probeResult(cluster: Cluster, record: ProbeRecord): ProbeResult {
  const { delivered, live, reliability } = cluster.measure(record);
  return { origin: record.origin, delivered, live, reliability, lastHop: record.lastHop };
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Lets the event loop turn, so that queued promise callbacks run and what they hold can be freed. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs `durationMs` of virtual time in slices, reporting progress and yielding to the event loop
 * after each. Without the yield, the promise callbacks of a whole run (each `join()` settling)
 * would wait for the end of the run, and keep every finished cluster in memory until then.
 */
async function advance(cluster: Cluster, durationMs: number, report: () => void): Promise<void> {
  let left = durationMs;
  while (left > 0) {
    const slice = Math.min(SLICE_MS, left);
    cluster.simulation.runFor(slice);
    left -= slice;
    report();
    await yieldToEventLoop();
  }
}

async function runFailure(
  args: SimulatorArguments,
  config: MembershipConfig,
  snapshot: ReadonlyMap<string, InitialView>,
  rate: number,
  progress: ProgressListener,
): Promise<FailureResult> {
  const cluster = createCluster({ seed: `${args.seed}/fail-${rate}`, nodes: args.nodes, config, network: NETWORK, joinSpacingMs: JOIN_SPACING_MS, initialViews: snapshot });
  const phase = `fail ${Math.round(rate * 100)}%`;
  let liveNodes = args.nodes;
  let detail = 'restoring the stable overlay';
  const report = (): void => progress({ phase, detail, simulatedMs: cluster.simulation.now(), liveNodes, nodes: args.nodes });
  await advance(cluster, SETTLE_MS, report);

  const victims = cluster.simulation.random.sample(cluster.ids, crashedNodes(args.nodes, rate));
  cluster.crash(victims);
  cluster.resetMessages();
  const networkBefore = cluster.simulation.network.stats();
  const crashedAt = cluster.simulation.now();
  liveNodes = args.nodes - victims.length;
  const lastRound = args.healingRounds[args.healingRounds.length - 1]!;
  const healing: HealingPoint[] = [];
  let pending: { round: number; overlay: OverlayHealth; records: ProbeRecord[] } | undefined;
  for (let round = 0; round <= lastRound + 1; round += 1) {
    if (pending !== undefined) {
      const broadcasts = pending.records.map((record) => probeResult(cluster, record));
      healing.push({ round: pending.round, reliability: mean(broadcasts.map((probe) => probe.reliability)), broadcasts, overlay: pending.overlay });
      pending = undefined;
    }
    if (args.healingRounds.includes(round)) {
      const overlay = overlayHealth(cluster.activeViews());
      const live = cluster.live();
      const origins = cluster.simulation.random.sample(live, args.broadcasts);
      // With more broadcasts than live nodes, origins repeat.
      while (origins.length < args.broadcasts) origins.push(cluster.simulation.random.pick(live));
      pending = { round, overlay, records: origins.map((origin) => cluster.probe(origin)) };
    }
    if (round === lastRound + 1) break;
    detail = `healing round ${round + 1}/${lastRound + 1}`;
    await advance(cluster, ROUND_MS, report);
  }
  const counts = cluster.messages();
  const figures = messageFigures(cluster, counts);
  const networkAfter = cluster.simulation.network.stats();
  const messages: MessageFigures = {
    ...figures,
    network: {
      sent: networkAfter.sent - networkBefore.sent,
      delivered: networkAfter.delivered - networkBefore.delivered,
      droppedNodeDown: networkAfter.droppedBy.nodeDown - networkBefore.droppedBy.nodeDown,
    },
  };
  return {
    rate,
    crashed: victims.length,
    live: liveNodes,
    reliability: Object.fromEntries(healing.map((point) => [String(point.round), point.reliability])),
    healing,
    overlayAfterHealing: overlayHealth(cluster.activeViews()),
    messages,
    simulatedMs: cluster.simulation.now() - crashedAt,
  };
}

/**
 * Joins and stabilises the overlay; returns its figures and every node's views. The cluster is not
 * returned, so that its memory is released before the failure runs.
 */
async function stabilise(args: SimulatorArguments, config: MembershipConfig, progress: ProgressListener): Promise<{ stable: StableResult; snapshot: Map<string, InitialView> }> {
  const base = createCluster({ seed: args.seed, nodes: args.nodes, config, network: NETWORK, joinSpacingMs: JOIN_SPACING_MS });
  let phase = 'join';
  let detail = '';
  const report = (): void => {
    const now = base.simulation.now();
    if (phase === 'join') detail = `${Math.min(args.nodes, Math.floor(now / JOIN_SPACING_MS) + 1)}/${args.nodes} started`;
    progress({ phase, detail, simulatedMs: now, liveNodes: args.nodes, nodes: args.nodes });
  };
  await advance(base, args.nodes * JOIN_SPACING_MS + 2 * ROUND_MS, report);
  phase = 'stabilise';
  for (let round = 0; round < args.stabiliseRounds; round += 1) {
    detail = `round ${round + 1}/${args.stabiliseRounds}`;
    await advance(base, ROUND_MS, report);
  }
  const overlay = overlayHealth(base.activeViews());
  const simulatedMs = base.simulation.now();
  const record = base.probe(base.ids[0]!);
  phase = 'stable broadcast';
  detail = '';
  await advance(base, ROUND_MS, report);
  const stable: StableResult = { simulatedMs, overlay, probe: probeResult(base, record), messages: messageFigures(base, base.messages()) };
  // Every live node resumes from these views; the links are symmetric by construction, so they are trusted.
  const snapshot = new Map<string, InitialView>([...base.views()].map(([id, view]) => [id, { ...view, trusted: true }]));
  return { stable, snapshot };
}

/** Runs the whole experiment; deterministic for given arguments. */
export async function runExperiment(args: SimulatorArguments, progress: ProgressListener = () => undefined): Promise<ExperimentResult> {
  const config = simulationConfig(args.nodes);
  const { stable, snapshot } = await stabilise(args, config, progress);
  const failures: FailureResult[] = [];
  for (const rate of args.failureRates) failures.push(await runFailure(args, config, snapshot, rate, progress));
  return { config, stable, failures };
}
