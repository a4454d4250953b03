// Cluster size estimation by extrema propagation (Baquero, Almeida, Menezes, "Fast estimation
// of aggregates in unstructured networks", ICAS 2009). Every node draws K values from an
// exponential distribution of rate 1; nodes exchange and keep element-wise minima; the minimum
// of n such values is exponential with rate n, so (K − 1) / Σ minima estimates n without bias,
// with a relative standard error of about 1 / sqrt(K − 2). Minima converge in as many exchange
// steps as the overlay's diameter and messages carry K numbers whatever the cluster size.
// Departures are forgotten by starting a new round (a later round number wins everywhere;
// rounds are serial numbers, serial.ts).
import type { Random } from '@foundation/core';
import { serialAfter } from './serial';

export class SizeEstimator {
  private minima: Float64Array;
  private currentRound = -1;
  private startedAt = Number.NEGATIVE_INFINITY;
  private lastEstimate: number | undefined;
  /** When the round `lastEstimate` comes from started and ended (by this node's clock). */
  private lastStartedAt = Number.NEGATIVE_INFINITY;
  private lastEndedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly samples: number,
    private readonly random: Random,
  ) {
    this.minima = new Float64Array(samples);
  }

  get round(): number {
    return this.currentRound;
  }

  /** When the current round started (by this node's clock). */
  get roundStartedAt(): number {
    return this.startedAt;
  }

  /**
   * When the last completed round (the one `estimate()` reports) started and ended, by this
   * node's clock; undefined before one completed. A round ended by a neighbour's later round soon
   * after it began holds little more than this node's own values, and estimates too small.
   */
  lastRound(): { readonly startedAt: number; readonly endedAt: number } | undefined {
    return this.lastEstimate === undefined ? undefined : { startedAt: this.lastStartedAt, endedAt: this.lastEndedAt };
  }

  /** Starts round `round` (greater than the current one): the last round's figure becomes the estimate. */
  startRound(round: number, now: number): void {
    if (!this.isAfterCurrent(round)) return;
    if (this.currentRound >= 0) {
      this.lastEstimate = this.current();
      this.lastStartedAt = this.startedAt;
      this.lastEndedAt = now;
    }
    this.currentRound = round;
    this.startedAt = now;
    // A draw of exactly 0 is taken as the smallest number above it: peers refuse a figure with a
    // zero in it (decode.ts), as zeros read as a cluster of one.
    for (let index = 0; index < this.samples; index += 1) this.minima[index] = -Math.log(1 - this.random.float()) || Number.MIN_VALUE;
  }

  /** Merges a neighbour's minima; true when this node's minima changed (and should be passed on). */
  merge(round: number, values: readonly number[], now: number): boolean {
    if (values.length !== this.samples) return false;
    if (round !== this.currentRound) {
      if (!this.isAfterCurrent(round)) return false;
      this.startRound(round, now);
    }
    let changed = false;
    for (let index = 0; index < this.samples; index += 1) {
      const value = values[index]!;
      if (value < this.minima[index]!) {
        this.minima[index] = value;
        changed = true;
      }
    }
    return changed;
  }

  /**
   * Whether a neighbour's figure (its round and minima) lacks what this node holds: an earlier
   * round than this node's, or in the same round a minimum larger than this node's.
   */
  lacks(round: number, values: readonly number[]): boolean {
    if (this.currentRound < 0 || values.length !== this.samples) return false;
    if (round !== this.currentRound) return serialAfter(this.currentRound, round);
    for (let index = 0; index < this.samples; index += 1) if (values[index]! > this.minima[index]!) return true;
    return false;
  }

  /** Rounds are serial numbers (serial.ts); before the first round, any round comes after. */
  private isAfterCurrent(round: number): boolean {
    return this.currentRound < 0 || serialAfter(round, this.currentRound);
  }

  values(): number[] {
    return Array.from(this.minima);
  }

  /** The estimate of the round in progress. */
  current(): number {
    let sum = 0;
    for (let index = 0; index < this.samples; index += 1) sum += this.minima[index]!;
    return sum > 0 ? (this.samples - 1) / sum : 1;
  }

  /** The estimate of the last completed round, or of the current one when none completed. */
  estimate(): number {
    if (this.currentRound < 0) return 1;
    return this.lastEstimate ?? this.current();
  }
}
