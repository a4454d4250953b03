// The health of one registration, from up to three sources, combined as the worst of them:
//   - active checks: consecutive failures turn `healthy` into `degraded`, and into `unhealthy`
//     at `failureThreshold`; `recoveryThreshold` consecutive successes make it `healthy` again;
//     a check may also answer a status directly;
//   - passive TTL heartbeats: no heartbeat for `ttlMs` makes it `degraded`, for `ttlMs +
//     graceMs` `unhealthy`; the next heartbeat makes it `healthy`;
//   - a status set by hand.
// Until the first check or heartbeat answers, the check's status is the policy's `initial`.
// Pure: the driver runs the checks and timers and passes time in.
import type { HealthStatus } from './types';

export interface HealthPolicy {
  readonly initial: HealthStatus;
  readonly failureThreshold: number;
  readonly recoveryThreshold: number;
  readonly ttlMs: number | undefined;
  readonly graceMs: number;
}

const RANK: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };
const BY_RANK: readonly HealthStatus[] = ['healthy', 'degraded', 'unhealthy'];

export function worst(...statuses: HealthStatus[]): HealthStatus {
  let rank = 0;
  for (const status of statuses) rank = Math.max(rank, RANK[status]);
  return BY_RANK[rank]!;
}

export class HealthTracker {
  private checkStatus: HealthStatus;
  private ttlStatus: HealthStatus = 'healthy';
  private manualStatus: HealthStatus = 'healthy';
  private failures = 0;
  private successes = 0;
  /**
   * Whether a check or a heartbeat has answered yet: until then `checkStatus` is the policy's
   * `initial` status, which the first heartbeat ends too (else, with no active check, an
   * initial `unhealthy` or `degraded` held for good).
   */
  private answered = false;
  /** Time of the last heartbeat (or of registration). */
  lastHeartbeat: number;

  constructor(
    readonly policy: HealthPolicy,
    now: number,
  ) {
    this.checkStatus = policy.initial;
    this.lastHeartbeat = now;
  }

  get status(): HealthStatus {
    return worst(this.checkStatus, this.ttlStatus, this.manualStatus);
  }

  /** The outcome of one active check: true/`healthy` passes, false/`unhealthy` (or a timeout, or a throw) fails. */
  recordCheck(result: boolean | HealthStatus): HealthStatus {
    this.answered = true;
    if (result === true || result === 'healthy') {
      this.failures = 0;
      this.successes += 1;
      if (this.checkStatus !== 'healthy' && this.successes >= this.policy.recoveryThreshold) this.checkStatus = 'healthy';
    } else if (result === 'degraded') {
      this.failures = 0;
      this.successes = 0;
      this.checkStatus = 'degraded';
    } else {
      this.successes = 0;
      this.failures += 1;
      this.checkStatus = this.failures >= this.policy.failureThreshold ? 'unhealthy' : 'degraded';
    }
    return this.status;
  }

  heartbeat(now: number): HealthStatus {
    this.lastHeartbeat = now;
    this.ttlStatus = 'healthy';
    if (!this.answered) {
      this.answered = true;
      this.checkStatus = 'healthy';
    }
    return this.status;
  }

  /** Applies the TTL at time `now`; returns the status and when to look again (undefined: not until the next heartbeat). */
  expire(now: number): { status: HealthStatus; nextCheckAt: number | undefined } {
    const ttl = this.policy.ttlMs;
    if (ttl === undefined) return { status: this.status, nextCheckAt: undefined };
    const silence = now - this.lastHeartbeat;
    if (silence >= ttl + this.policy.graceMs) {
      this.ttlStatus = 'unhealthy';
      return { status: this.status, nextCheckAt: undefined };
    }
    if (silence >= ttl) {
      this.ttlStatus = 'degraded';
      return { status: this.status, nextCheckAt: this.lastHeartbeat + ttl + this.policy.graceMs };
    }
    this.ttlStatus = 'healthy';
    return { status: this.status, nextCheckAt: this.lastHeartbeat + ttl };
  }

  setManual(status: HealthStatus): HealthStatus {
    this.manualStatus = status;
    return this.status;
  }
}
