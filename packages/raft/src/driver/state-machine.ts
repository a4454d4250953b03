// What a replicated state machine provides to a Raft node. `apply` runs on every node for every
// committed command, in log order; it must be deterministic (same commands → same state), so it
// may not read the clock or randomness, and it must not throw for a command it can refuse: a
// refusal is a result.

export interface StateMachine<Command, Result, Query, QueryResult> {
  /** Applies a committed command; `index` is its log position (monotonic). */
  apply(command: Command, index: number): Result;
  /** Answers a read against the current state (called only when the read is linearizable). */
  query(query: Query): QueryResult;
  /** Serialises the whole state, for snapshots. */
  snapshot(): Uint8Array;
  /** Replaces the whole state from a snapshot. */
  restore(data: Uint8Array): void;
}

/** How commands travel in the log: to bytes and back. */
export interface CommandCodec<Command> {
  encode(command: Command): Uint8Array;
  decode(data: Uint8Array): Command;
}
