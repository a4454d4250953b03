// Token buckets per source: `ratePerSecond` tokens accrue up to `burst`; each accepted message
// takes one. Time is an input (`now`, in ms), so the limiter is deterministic. The number of
// sources tracked is bounded: when it is reached, sources whose bucket has refilled are
// forgotten (they would be accepted anyway), and failing that the oldest is.

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly maxSources = 4096,
  ) {}

  /** Takes a token for `source` at time `now`; false when its bucket is empty. */
  allow(source: string, now: number): boolean {
    let bucket = this.buckets.get(source);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxSources) this.evict(now);
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(source, bucket);
    } else if (now > bucket.at) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.ratePerSecond) / 1000);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }

  private evict(now: number): void {
    for (const [source, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) * this.ratePerSecond) / 1000 >= this.burst) this.buckets.delete(source);
    }
    if (this.buckets.size >= this.maxSources) {
      const oldest = this.buckets.keys().next();
      if (oldest.done !== true) this.buckets.delete(oldest.value);
    }
  }
}
