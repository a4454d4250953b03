// Keeps the Raft group's learners to the nodes alive in the cluster. A node that is not a voter
// joins the group as a learner when it starts (ClusterConsensus.join); nothing else ever took
// one out, so a learner that stopped or died stayed in the configuration for good: the leader
// kept replicating to it, Raft's links kept redialling it, and the configuration grew with every
// learner that ever joined.
//
// Departures are decided as the registry decides them: a node's entries go when it leaves
// (announced as it stops) or when the membership reports it failed. The leader removes a learner
// once the registry has not listed it for `graceMs` in a row (time for a new learner's entry to
// reach the leader, and for a new leader's view to fill in), and adds back a node the registry
// lists but the group does not hold: the registry re-announces a node that was purged while alive
// (a partition longer than the grace), and that node must not stay cut off from the log.
// A node the leader is linked to (its membership neighbours) is alive too, though the registry
// may not list it yet: a joining learner registers only once it has caught up with the log up to
// its addition, which can take longer than the grace (a large snapshot), and a learner restarted
// under the same id is listed again only after its start. Such a learner is not removed.
// Voters are never touched: changing who votes is an operator's call.
import type { Scheduler } from '@foundation/core';
import type { ClusterRaftNode } from '../consensus/cluster-consensus';

export interface LearnerUpkeepOptions {
  readonly nodeId: string;
  readonly raft: Pick<ClusterRaftNode, 'status' | 'addLearner' | 'removeMember'>;
  /** The nodes the cluster knows as alive (this one included or not). */
  readonly liveNodes: () => Iterable<string>;
  /**
   * The nodes this one is linked to now: alive, listed in the registry or not. A learner among
   * them is kept; only the registry's nodes are added back. Default none.
   */
  readonly linkedNodes?: () => Iterable<string>;
  readonly clock: Scheduler;
  /** How long a learner must be missing from `liveNodes` before it is removed. */
  readonly graceMs: number;
  /** How often the leader compares the two. */
  readonly intervalMs: number;
}

/** Starts the upkeep (it acts only while this node leads); returns the function that stops it. */
export function keepLearnersToLiveNodes(options: LearnerUpkeepOptions): () => void {
  const { nodeId, raft, clock, graceMs } = options;
  /** Learners missing from the live nodes, and since when (as this leader saw it). */
  const missingSince = new Map<string, number>();
  let changing = false;
  let stopped = false;

  const check = (): void => {
    if (stopped || changing) return;
    const status = raft.status();
    if (status.role !== 'leader') {
      missingSince.clear();
      return;
    }
    const now = clock.monotonic();
    const live = new Set(options.liveNodes());
    const alive = new Set([...live, ...(options.linkedNodes?.() ?? [])]);
    const { voters, learners } = status.membership;
    // Looked up once per node, in sets: with an includes() per live node, one check took time
    // in the square of the cluster's size (about 2 ms at 1,000 nodes, every interval).
    const members = new Set([...voters, ...learners]);
    const isLearner = new Set(learners);
    for (const node of missingSince.keys()) if (!isLearner.has(node) || alive.has(node)) missingSince.delete(node);
    let change: (() => Promise<unknown>) | undefined;
    for (const learner of learners) {
      if (alive.has(learner)) continue;
      const since = missingSince.get(learner) ?? now;
      missingSince.set(learner, since);
      if (change === undefined && now - since >= graceMs) change = () => raft.removeMember(learner);
    }
    if (change === undefined) {
      const outside = [...live].find((node) => node !== nodeId && !members.has(node));
      if (outside !== undefined) change = () => raft.addLearner(outside);
    }
    if (change === undefined) return;
    // One membership change at a time (Raft takes no other while one is pending); one that
    // fails (leadership lost, a change of the node's own pending) is tried again next round.
    changing = true;
    const done = (): void => {
      changing = false;
    };
    change().then(done, done);
  };

  const timer = clock.setRepeatingTimer(options.intervalMs, check);
  return () => {
    stopped = true;
    timer.cancel();
  };
}
