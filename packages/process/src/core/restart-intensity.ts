// Restart intensity, as OTP supervisors count it: a supervisor may restart its children at most
// `maxRestarts` times within any `periodMs`; the restart that would exceed that makes the
// supervisor give up (terminate its children and exit with `shutdown`).

export interface IntensityLimits {
  /** Restarts allowed within the period (OTP's `intensity`; default 3 in the Supervisor docs). */
  readonly maxRestarts: number;
  /** The sliding window, in milliseconds (OTP's `period`, default 5 s). */
  readonly periodMs: number;
}

export class RestartIntensity {
  /** Times of the restarts still inside the window, oldest first. */
  private readonly times: number[] = [];

  constructor(readonly limits: IntensityLimits) {}

  /**
   * Records a restart at `now` (monotonic ms) and returns true when it is allowed, false when
   * it makes more than `maxRestarts` restarts within the last `periodMs` (the supervisor must
   * then give up). Restarts at exactly `now - periodMs` are outside the window.
   */
  record(now: number): boolean {
    this.times.push(now);
    const cutoff = now - this.limits.periodMs;
    let drop = 0;
    while (drop < this.times.length && this.times[drop]! <= cutoff) drop += 1;
    if (drop > 0) this.times.splice(0, drop);
    return this.times.length <= this.limits.maxRestarts;
  }

  /** Restarts inside the window as of the last `record`. */
  get recent(): number {
    return this.times.length;
  }
}
