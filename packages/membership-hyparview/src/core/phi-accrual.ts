// The φ accrual failure detector (Hayashibara, Défago, Yared, Katayama, "The φ accrual failure
// detector", SRDS 2004): instead of a yes/no verdict, a suspicion level φ = −log10(P(a heartbeat
// arrives later than now)), from the mean and deviation of recent inter-arrival times. φ = 1
// means a 10% chance the node is merely late, φ = 8 one in a hundred million. The tail is the
// logistic approximation of the normal distribution that Akka and Cassandra use.

export interface PhiOptions {
  /** Intervals kept. */
  readonly window: number;
  /** Floor of the standard deviation (ms). */
  readonly minStdDeviationMs: number;
  /** Added to the mean: a pause tolerated before φ rises (ms). */
  readonly acceptablePauseMs: number;
  /** Assumed interval before two heartbeats were seen (ms). */
  readonly firstIntervalMs: number;
}

export class PhiAccrualDetector {
  private readonly intervals: Float64Array;
  private count = 0;
  private next = 0;
  private sum = 0;
  private squares = 0;
  private last: number | undefined;

  constructor(private readonly options: PhiOptions) {
    this.intervals = new Float64Array(options.window);
  }

  /** A heartbeat arrived at `now`. */
  heartbeat(now: number): void {
    if (this.last === undefined) {
      // Seed the history so φ is meaningful from the second heartbeat on.
      const first = this.options.firstIntervalMs;
      this.push(first - first / 4);
      this.push(first + first / 4);
    } else {
      this.push(Math.max(0, now - this.last));
    }
    this.last = now;
  }

  get lastHeartbeat(): number | undefined {
    return this.last;
  }

  /** φ at `now`; 0 before the first heartbeat. */
  phi(now: number): number {
    if (this.last === undefined || this.count === 0) return 0;
    const mean = this.sum / this.count + this.options.acceptablePauseMs;
    const variance = Math.max(0, this.squares / this.count - (this.sum / this.count) ** 2);
    const deviation = Math.max(Math.sqrt(variance), this.options.minStdDeviationMs);
    const y = (now - this.last - mean) / deviation;
    const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
    const tail = now - this.last > mean ? e / (1 + e) : 1 - 1 / (1 + e);
    return tail <= 0 ? Number.POSITIVE_INFINITY : -Math.log10(tail);
  }

  private push(interval: number): void {
    if (this.count === this.intervals.length) {
      const old = this.intervals[this.next]!;
      this.sum -= old;
      this.squares -= old * old;
    } else {
      this.count += 1;
    }
    this.intervals[this.next] = interval;
    this.sum += interval;
    this.squares += interval * interval;
    this.next = (this.next + 1) % this.intervals.length;
  }
}
