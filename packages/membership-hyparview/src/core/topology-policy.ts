// The topology manager's decision, as a pure function of what it observed. Size picks the base
// (Foundation 2.0 design: full mesh under 10 nodes, HyParView up to 1,000, client-server beyond),
// with hysteresis on the way down. Health adjusts it: sustained neighbour latency or bandwidth
// use above the design's thresholds means the links are overloaded, so the manager moves one step
// to a topology with fewer links per node; more partition events than the threshold within the
// window means links keep breaking, so it leaves client-server (whose servers concentrate the
// risk) for HyParView, which is built to heal after mass failures. The cooldown between switches
// is the caller's (it also applies to switches other nodes proposed).
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

/** Tracks a signal and how long its windowed median has stayed above a threshold. */
class SustainedSignal {
  private samples: Sample[] = [];
  private highSince: number | undefined;

  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
  ) {}

  record(value: number, now: number): void {
    if (!Number.isFinite(value)) return;
    this.samples.push({ at: now, value });
    if (this.samples.length > 4096) this.samples.splice(0, this.samples.length - 4096);
  }

  /** True when the windowed median has been above the threshold for a whole window. */
  sustained(now: number): boolean {
    this.samples = this.samples.filter((sample) => now - sample.at <= this.windowMs);
    if (this.samples.length === 0) {
      this.highSince = undefined;
      return false;
    }
    const sorted = this.samples.map((sample) => sample.value).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    if (median <= this.threshold) {
      this.highSince = undefined;
      return false;
    }
    this.highSince ??= now;
    return now - this.highSince >= this.windowMs;
  }

  median(now: number): number | undefined {
    const recent = this.samples.filter((sample) => now - sample.at <= this.windowMs).map((sample) => sample.value);
    if (recent.length === 0) return undefined;
    recent.sort((a, b) => a - b);
    return recent[Math.floor(recent.length / 2)];
  }

  reset(): void {
    this.samples = [];
    this.highSince = undefined;
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
    this.latency = new SustainedSignal(config.latencyThresholdMs, config.healthWindowMs);
    this.bandwidth = new SustainedSignal(config.bandwidthThreshold, config.healthWindowMs);
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

  /** Starts observing afresh (after a switch, what was measured on the old links no longer applies). */
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
    let decision: TopologyDecision;
    if (this.latency.sustained(now)) decision = { mode: sparser(current), reason: 'latency' };
    else if (this.bandwidth.sustained(now)) decision = { mode: sparser(current), reason: 'bandwidth' };
    else decision = { mode: modeForSize(size, current, this.config), reason: 'size' };
    if (partitions > this.config.partitionEventsThreshold && decision.mode === 'client-server') decision = { mode: 'hyparview', reason: 'partitions' };
    return decision.mode === current ? undefined : decision;
  }
}
