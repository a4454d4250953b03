// ReadIndex (thesis §6.4): a linearizable read records the leader's commit index, then waits
// until a quorum answers a heartbeat sent after the read arrived — proof that the leader was
// still the leader at that point — and until the state machine has applied that index.
import type { NodeId } from './types';

interface PendingRead {
  readonly index: number;
  readonly context: string;
  /** Who asked: null for this node, else the follower that forwarded the read. */
  readonly requester: NodeId | null;
  readonly acks: Set<NodeId>;
}

export interface ReleasedRead {
  readonly index: number;
  readonly context: string;
  readonly requester: NodeId | null;
}

export class ReadOnlyQueue {
  private readonly pending = new Map<string, PendingRead>();
  private queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  has(context: string): boolean {
    return this.pending.has(context);
  }

  add(index: number, context: string, requester: NodeId | null, self: NodeId): void {
    if (this.pending.has(context)) return;
    this.pending.set(context, { index, context, requester, acks: new Set([self]) });
    this.queue.push(context);
  }

  /** Records a heartbeat answer for `context`; returns how many have acknowledged it. */
  ack(from: NodeId, context: string): number {
    const read = this.pending.get(context);
    if (read === undefined) return 0;
    read.acks.add(from);
    return read.acks.size;
  }

  acks(context: string): ReadonlySet<NodeId> {
    return this.pending.get(context)?.acks ?? new Set();
  }

  /**
   * Releases `context` and every read queued before it: a quorum that answered a later
   * heartbeat also confirms the leadership at the earlier reads.
   */
  release(context: string): ReleasedRead[] {
    const position = this.queue.indexOf(context);
    if (position < 0) return [];
    const released = this.queue.slice(0, position + 1).map((key) => {
      const read = this.pending.get(key)!;
      this.pending.delete(key);
      return { index: read.index, context: read.context, requester: read.requester };
    });
    this.queue = this.queue.slice(position + 1);
    return released;
  }

  /** The newest pending context, to piggyback on heartbeats. */
  last(): string | null {
    return this.queue.length === 0 ? null : this.queue[this.queue.length - 1]!;
  }

  /** Drops every pending read (leadership lost); returns them so their callers can be told. */
  clear(): ReleasedRead[] {
    const dropped = this.queue.map((key) => {
      const read = this.pending.get(key)!;
      return { index: read.index, context: read.context, requester: read.requester };
    });
    this.pending.clear();
    this.queue = [];
    return dropped;
  }
}

/** The largest index a quorum of voters has: the median of their match indexes. */
export function quorumIndex(voters: readonly NodeId[], matchOf: (node: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[Math.floor(voters.length / 2)]!;
}

export function isQuorum(count: number, voters: number): boolean {
  return count > voters / 2;
}
