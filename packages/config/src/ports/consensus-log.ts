// The port through which cluster-wide config arrives later. @foundation/raft satisfies it
// structurally; the `foundation` meta-package wires a Raft group to each node's Config and adds
// `setClusterWide(path, value)` and `getWithConsensus(path)` on top, without this package
// changing shape:
//
//   setClusterWide(path, value):
//     config.checkUpdate(path, value)                 refuse locally what every replica would refuse
//     index = await log.append({ type: 'config-set', path, value })
//     await applied(index)                            so the caller reads its own write
//     throw the refusal at `index`, if any            a write committed just before may make it invalid
//   every replica, for each applied entry:           log.onApplied(({ index, command }) => config.safeUpdate(command.path, command.value)),
//                                                    keeping the refusal by index for the writer
//   getWithConsensus(path):
//     index = await log.readIndex()                   a linearizable point (Raft's ReadIndex)
//     await applied(index)
//     return config.get(path)
//
// Because every replica applies the same commands in the same order through the same checks,
// replicas that start from the same layers end in the same config.

/** A config change as it travels through the log: plain data, checked again by every replica. */
export interface ConfigCommand {
  readonly type: 'config-set';
  readonly path: readonly string[];
  readonly value: unknown;
}

/** A command the log has committed and this replica has applied, with its position. */
export interface AppliedEntry<Command> {
  /** Position in the log: 1, 2, 3... with no gaps, the same on every replica. */
  readonly index: number;
  readonly command: Command;
}

export interface ConsensusLogCallOptions {
  /** Gives up waiting (the command may still commit later). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A replicated, totally ordered log of commands: append a command, read at a linearizable
 * point, observe commands as they are applied.
 *
 * Contract an implementation keeps:
 * - `append` resolves with the command's index once the command is committed; it is then
 *   applied on every replica, at that index, exactly once. A rejection means the outcome is
 *   unknown (it may still commit), unless the error says otherwise.
 * - `readIndex` resolves with an index at least as large as that of every command committed
 *   before `readIndex` was called (linearizable reads: Raft §6.4, ReadIndex). Waiting until
 *   `appliedIndex()` reaches it and then reading local state is a linearizable read.
 * - `onApplied` listeners see applied commands in index order, each once, after the command is
 *   applied locally; `appliedIndex()` is the index of the last one (0 before any).
 */
export interface ConsensusLog<Command = ConfigCommand> {
  append(command: Command, options?: ConsensusLogCallOptions): Promise<number>;
  readIndex(options?: ConsensusLogCallOptions): Promise<number>;
  appliedIndex(): number;
  onApplied(listener: (entry: AppliedEntry<Command>) => void): () => void;
}
