// Failure detection for neighbours, apart from the transport's own `peer-down`: every neighbour
// sends heartbeats; silence longer than `heartbeatTimeoutMs` (counting any message, not only
// heartbeats) is a failure, and a φ accrual level above `phiThreshold` is a suspicion, reported
// once per episode. Heartbeats echo the last heartbeat received, so each side learns the round
// trip without a separate ping.
import type { FailureDetectionConfig } from './config';
import type { HeartbeatMessage } from './messages';
import { PhiAccrualDetector } from './phi-accrual';

interface NeighborState {
  readonly detector: PhiAccrualDetector;
  lastHeard: number;
  suspected: boolean;
  /** The peer's `sentAt` of its last heartbeat, and when it arrived here. */
  peerSentAt: number | undefined;
  receivedAt: number;
  roundTripMs: number | undefined;
}

export interface MonitorVerdict {
  readonly failed: string[];
  readonly suspected: { readonly peer: string; readonly phi: number }[];
}

export class NeighborMonitor {
  /** Absent without heartbeats: nothing is tracked then (see `add`). */
  private readonly states: Map<string, NeighborState> | undefined;

  constructor(private readonly config: FailureDetectionConfig) {
    this.states = config.heartbeatIntervalMs > 0 ? new Map() : undefined;
  }

  get enabled(): boolean {
    return this.config.heartbeatIntervalMs > 0;
  }

  add(peer: string, now: number): void {
    // Without heartbeats there is nothing to track (φ stays 0, no round trips), and a detector's
    // history window is kilobytes per neighbour.
    if (this.states === undefined || this.states.has(peer)) return;
    this.states.set(peer, {
      detector: new PhiAccrualDetector({
        window: this.config.phiWindow,
        minStdDeviationMs: this.config.phiMinStdDeviationMs,
        acceptablePauseMs: this.config.phiAcceptablePauseMs,
        firstIntervalMs: this.config.heartbeatIntervalMs || 1000,
      }),
      lastHeard: now,
      suspected: false,
      peerSentAt: undefined,
      receivedAt: now,
      roundTripMs: undefined,
    });
  }

  remove(peer: string): void {
    this.states?.delete(peer);
  }

  has(peer: string): boolean {
    return this.states?.has(peer) ?? false;
  }

  /** Any message from `peer` proves it alive. */
  heard(peer: string, now: number): void {
    const state = this.states?.get(peer);
    if (state !== undefined && now > state.lastHeard) state.lastHeard = now;
  }

  /** A heartbeat from `peer`; returns the round trip it revealed, if any. */
  heartbeat(peer: string, message: HeartbeatMessage, now: number): number | undefined {
    const state = this.states?.get(peer);
    if (state === undefined) return undefined;
    state.lastHeard = now;
    state.detector.heartbeat(now);
    state.suspected = false;
    state.peerSentAt = message.sentAt;
    state.receivedAt = now;
    if (message.echo === undefined) return undefined;
    const roundTrip = now - message.echo - (message.held ?? 0);
    if (!(roundTrip >= 0) || roundTrip > 3_600_000) return undefined;
    state.roundTripMs = roundTrip;
    return roundTrip;
  }

  /** The heartbeat to send to `peer` now. */
  heartbeatFor(peer: string, now: number): HeartbeatMessage {
    const state = this.states?.get(peer);
    if (state?.peerSentAt === undefined) return { type: 'heartbeat', sentAt: now };
    return { type: 'heartbeat', sentAt: now, echo: state.peerSentAt, held: now - state.receivedAt };
  }

  phi(peer: string, now: number): number {
    return this.states?.get(peer)?.detector.phi(now) ?? 0;
  }

  roundTrip(peer: string): number | undefined {
    return this.states?.get(peer)?.roundTripMs;
  }

  /** Neighbours silent past the timeout, and neighbours newly suspected. */
  check(now: number): MonitorVerdict {
    const failed: string[] = [];
    const suspected: { peer: string; phi: number }[] = [];
    if (this.states === undefined) return { failed, suspected };
    for (const [peer, state] of this.states) {
      if (now - state.lastHeard > this.config.heartbeatTimeoutMs) {
        failed.push(peer);
        continue;
      }
      if (state.suspected || state.detector.lastHeartbeat === undefined) continue;
      const phi = state.detector.phi(now);
      if (phi >= this.config.phiThreshold) {
        state.suspected = true;
        suspected.push({ peer, phi });
      }
    }
    return { failed, suspected };
  }
}
