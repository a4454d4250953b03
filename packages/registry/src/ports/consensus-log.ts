// The port through which `registerGlobal` gets strictly unique names: a replicated, totally
// ordered log of commands (the role Erlang's :global plays, with Raft underneath). @foundation/raft
// satisfies it through the `foundation` meta-package; `createLocalConsensusLog()` in this package
// is the single-node implementation. The shape is the one @foundation/config declares, so one
// Raft group can serve both.
//
// Contract an implementation keeps:
// - `append` resolves with the command's index once it is committed; it is then applied on
//   every replica, at that index, exactly once. A rejection means the outcome is unknown.
// - `readIndex` resolves with an index at least as large as that of every command committed
//   before the call (Raft §6.4, ReadIndex); waiting until `appliedIndex()` reaches it and then
//   reading local state is a linearizable read.
// - `onApplied` listeners see applied commands in index order, each once; `appliedIndex()` is
//   the index of the last one (0 before any).
// - `onRestore` (optional) listeners hear that this replica's state was replaced by a snapshot
//   (a follower too far behind the leader): the `onApplied` listeners then hear the commands
//   the snapshot retains again, from the first, so each must first drop what it derived from
//   the commands before.
// - `onRestoreEnd` (optional, with `onRestore`) listeners hear that those commands have all been
//   heard again, with the log index the snapshot was taken at: every command up to that index is
//   settled in it, and one the snapshot did not retain will not be heard. A log that compacts
//   what it retains should offer it; without it the registry cannot tell that a claim of its own
//   was compacted away with its release, and keeps it (and its monitor) until it closes; nor
//   can it wait for the end of the replay to show watchers only what changed.

export interface AppliedEntry<Command> {
  readonly index: number;
  readonly command: Command;
}

export interface ConsensusLogCallOptions {
  readonly signal?: AbortSignal | undefined;
}

export interface ConsensusLog<Command = unknown> {
  append(command: Command, options?: ConsensusLogCallOptions): Promise<number>;
  readIndex(options?: ConsensusLogCallOptions): Promise<number>;
  appliedIndex(): number;
  onApplied(listener: (entry: AppliedEntry<Command>) => void): () => void;
  onRestore?(listener: () => void): () => void;
  onRestoreEnd?(listener: (snapshotIndex: number) => void): () => void;
}
