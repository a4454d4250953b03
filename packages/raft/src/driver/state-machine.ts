// What a replicated state machine provides to a Raft node. `apply` runs on every node for every
// committed command, in log order; it must be deterministic (same commands → same state), so it
// may not read the clock or randomness, and it must not throw for a command it can refuse: a
// refusal is a result.

export interface StateMachine<Command, Result, Query, QueryResult> {
  /** Applies a committed command; `index` is its log position (monotonic). */
  apply(command: Command, index: number): Result;
  /** Answers a read against the current state (called only when the read is linearizable). */
  query(query: Query): QueryResult;
  /**
   * Optional: throws for a command this state machine refuses to take into the log (one the
   * codec cannot carry faithfully, say). The node calls it in `propose`, on the node the command
   * is proposed to, before the command is encoded; `propose` then fails with DroppedError (marked
   * not to be retried: the same command is refused again) and the thrown error as its cause. Never called for a command already in the log: `apply` must still
   * take every command there, as it did before the check existed, the same on every node.
   */
  checkCommand?(command: Command): void;
  /** Optional: throws for a query this state machine refuses; `read` then fails with what it threw. */
  checkQuery?(query: Query): void;
  /** Serialises the whole state, for snapshots. */
  snapshot(): Uint8Array;
  /**
   * Optional, for a state too large to serialise in one go: the node runs nothing else while
   * `snapshot` runs (no heartbeats, no appends, no answers), and a large state can take long
   * enough to cost a leader its leadership. Called at the snapshot's log position, it captures
   * at once what the snapshot holds (commands applied later must not change it) and returns the
   * serialised state in pieces: the node takes one piece per turn of its event loop, in between
   * its other work, and joins them into the data `restore` reads. When present, the node uses
   * it for the snapshots it takes.
   */
  snapshotPieces?(): Iterator<Uint8Array>;
  /**
   * Replaces the whole state from a snapshot. It may throw for bytes it cannot read, and should
   * then leave the state as it was.
   */
  restore(data: Uint8Array): void;
  /**
   * Optional: throws what `restore(data)` would throw, and changes nothing. The node calls it on
   * a snapshot received from another node before it takes it: by the time `restore` runs, the
   * snapshot has replaced the node's log and is on disk, so a `restore` that throws then stops
   * the node, and it fails again at every start on the snapshot it wrote. Refused here, the
   * snapshot is dropped instead (the node stays as it was, and says so with an `error` event),
   * and the sender sends it again until it sends one this state machine reads. Without it, a
   * snapshot `restore` cannot read stops the node.
   */
  checkSnapshot?(data: Uint8Array): void;
}

/** How commands travel in the log: to bytes and back. */
export interface CommandCodec<Command> {
  encode(command: Command): Uint8Array;
  decode(data: Uint8Array): Command;
}
