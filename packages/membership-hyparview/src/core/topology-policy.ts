// The topology manager's decision, as a pure function of what it observed. Size picks the base
// (Foundation 2.0 design: full mesh under 10 nodes, HyParView up to 1,000, client-server beyond),
// with hysteresis on the way down. Health adjusts it: sustained neighbour latency or bandwidth
// use above the design's thresholds means the links are overloaded, so the manager moves one step
// to a topology with fewer links per node; more partition events than the threshold within the
// window means links keep breaking, so it leaves client-server (whose servers concentrate the
// risk) for HyParView, which is built to heal after mass failures. The cooldown between switches
// is the caller's (it also applies to switches other nodes proposed).
//
// Health has hysteresis too, and it outlives a switch. A signal turns *degraded* as soon as its
// windowed median is above its threshold, and is healthy again only after its median has stayed at
// or below a lower mark (the threshold less the `hysteresis` fraction, as for size) for a whole window; while
// any signal is degraded, size may not move to a denser topology. Without this the manager flapped
// on a network that is merely slow: a switch resets the samples (what the old links measured does
// not apply to the new ones), so after the cooldown the high latency was not yet "sustained" again
// and the size rule undid the step, only for latency to redo it a window later: a full overlay
// rebuild per cooldown, for as long as the network stayed slow. Switching does not make a slow
// network fast, so the verdict, unlike the samples, is kept across a switch, and it is reached on
// any evaluation (a node that adopted another's decision before its own signal was sustained
// holds as well). Stepping sparser still needs the condition sustained in the current topology
// for a whole window, and a partition still leaves client-server at once. Other damping was
// considered: a cooldown that grows after each reversed switch still flaps, only slower, and
// delays every legitimate return as well; holding on the measured cause stops the flap and lets
// the cluster return once the network has been healthy for a whole window.
import type { TopologyConfig, TopologyMode } from './config';

export type SwitchReason = 'size' | 'latency' | 'bandwidth' | 'partitions' | 'manual';

export interface TopologyDecision {
  readonly mode: TopologyMode;
  readonly reason: SwitchReason;
}

const ORDER: readonly TopologyMode[] = ['full-mesh', 'hyparview', 'client-server'];

/** The next topology with fewer links per node (client-server has the fewest). */
export function sparser(mode: TopologyMode): TopologyMode {
  return ORDER[Math.min(ORDER.length - 1, ORDER.indexOf(mode) + 1)]!;
}

/** The topology size alone calls for, given the current one (hysteresis applies going down). */
export function modeForSize(size: number, current: TopologyMode, config: TopologyConfig): TopologyMode {
  const keep = 1 - config.hysteresis;
  if (size > config.hyparviewUpTo) return 'client-server';
  if (current === 'client-server' && size > config.hyparviewUpTo * keep) return 'client-server';
  if (size >= config.fullMeshBelow) return 'hyparview';
  if (current !== 'full-mesh' && size >= config.fullMeshBelow * keep) return current;
  return 'full-mesh';
}

interface Sample {
  readonly at: number;
  readonly value: number;
}

/** What an evaluation of a signal concluded. */
interface SignalState {
  /** The windowed median has been above the threshold for a whole window (in this topology). */
  readonly sustained: boolean;
  /** Above the threshold lately, and not yet at or below the recovery mark for a whole window. */
  readonly degraded: boolean;
}

/**
 * Tracks a signal, how long its windowed median has stayed above a threshold, and whether it is
 * degraded: set when the median goes above the threshold, cleared only once the median (or an
 * empty window: nothing measured, nothing unhealthy) has stayed at or below `recoverAt` for a
 * whole window. `reset` drops the samples but keeps that verdict.
 */
class SustainedSignal {
  private samples: Sample[] = [];
  private highSince: number | undefined;
  private lowSince: number | undefined;
  private degraded = false;

  constructor(
    private readonly threshold: number,
    private readonly recoverAt: number,
    private readonly windowMs: number,
  ) {}

  record(value: number, now: number): void {
    if (!Number.isFinite(value)) return;
    this.samples.push({ at: now, value });
    if (this.samples.length > 4096) this.samples.splice(0, this.samples.length - 4096);
  }

  /** Updates the state from the windowed median at `now` (one call per evaluation). */
  evaluate(now: number): SignalState {
    this.samples = this.samples.filter((sample) => now - sample.at <= this.windowMs);
    const median = this.median(now);
    if (median !== undefined && median > this.threshold) {
      this.highSince ??= now;
      this.degraded = true;
    } else this.highSince = undefined;
    if (median === undefined || median <= this.recoverAt) this.lowSince ??= now;
    else this.lowSince = undefined;
    if (this.lowSince !== undefined && now - this.lowSince >= this.windowMs) this.degraded = false;
    return { sustained: this.highSince !== undefined && now - this.highSince >= this.windowMs, degraded: this.degraded };
  }

  median(now: number): number | undefined {
    const recent = this.samples.filter((sample) => now - sample.at <= this.windowMs).map((sample) => sample.value);
    if (recent.length === 0) return undefined;
    recent.sort((a, b) => a - b);
    return recent[Math.floor(recent.length / 2)];
  }

  /** Drops the samples and the timing of both thresholds; the degraded verdict stands. */
  reset(): void {
    this.samples = [];
    this.highSince = undefined;
    this.lowSince = undefined;
  }
}

export interface HealthSnapshot {
  /** Median neighbour round trip in the window (ms), if measured. */
  readonly latencyMs: number | undefined;
  /** Partition events (neighbour failures) in the window. */
  readonly partitionEvents: number;
  /** Median bandwidth use in the window (0–1), if reported. */
  readonly bandwidthUse: number | undefined;
}

export class TopologyPolicy {
  private readonly latency: SustainedSignal;
  private readonly bandwidth: SustainedSignal;
  private partitions: number[] = [];

  constructor(private readonly config: TopologyConfig) {
    const keep = 1 - config.hysteresis;
    this.latency = new SustainedSignal(config.latencyThresholdMs, config.latencyThresholdMs * keep, config.healthWindowMs);
    this.bandwidth = new SustainedSignal(config.bandwidthThreshold, config.bandwidthThreshold * keep, config.healthWindowMs);
  }

  recordLatency(roundTripMs: number, now: number): void {
    this.latency.record(roundTripMs, now);
  }

  recordBandwidth(use: number, now: number): void {
    this.bandwidth.record(use, now);
  }

  /** A partition event: a neighbour failure detected (not a graceful leave). */
  recordPartitionEvent(now: number): void {
    this.partitions.push(now);
    if (this.partitions.length > 10_000) this.partitions.splice(0, this.partitions.length - 10_000);
  }

  /**
   * Starts observing afresh (after a switch, what was measured on the old links no longer
   * applies), but remembers a degraded signal: the network is no faster for the switch.
   */
  reset(): void {
    this.latency.reset();
    this.bandwidth.reset();
    this.partitions = [];
  }

  health(now: number): HealthSnapshot {
    this.partitions = this.partitions.filter((at) => now - at <= this.config.healthWindowMs);
    return { latencyMs: this.latency.median(now), partitionEvents: this.partitions.length, bandwidthUse: this.bandwidth.median(now) };
  }

  /** The topology to switch to, or undefined to stay. */
  decide(current: TopologyMode, size: number, now: number): TopologyDecision | undefined {
    const partitions = this.health(now).partitionEvents;
    const latency = this.latency.evaluate(now);
    const bandwidth = this.bandwidth.evaluate(now);
    let decision: TopologyDecision;
    if (latency.sustained) decision = { mode: sparser(current), reason: 'latency' };
    else if (bandwidth.sustained) decision = { mode: sparser(current), reason: 'bandwidth' };
    else {
      decision = { mode: modeForSize(size, current, this.config), reason: 'size' };
      // Health hysteresis: no denser topology (more links per node) while a signal is degraded.
      if (ORDER.indexOf(decision.mode) < ORDER.indexOf(current) && (latency.degraded || bandwidth.degraded)) decision = { mode: current, reason: 'size' };
    }
    if (partitions > this.config.partitionEventsThreshold && decision.mode === 'client-server') decision = { mode: 'hyparview', reason: 'partitions' };
    return decision.mode === current ? undefined : decision;
  }
}
