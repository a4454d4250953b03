// Checks of createRaftNode's options, made when it is called: found only in start(), they came
// after the storage was loaded (a file storage opened, a first snapshot written), as uncoded
// RangeErrors, or not at all (a snapshot chunk of 0 bytes stalled every transfer for good).
import { RaftOptionsError } from '../errors/raft-options-error';

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** A whole number of at least 1, when given. */
function positiveInteger(option: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new RaftOptionsError(option, `must be a whole number of at least 1 (got ${describe(value)})`);
}

/** true or false, when given: anything else (0, "false") reached the core, which reads it as truthy or not. */
function flag(option: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'boolean') throw new RaftOptionsError(option, `must be true or false (got ${describe(value)})`);
}

/** A number of milliseconds above 0, when given; `Infinity` only where it means "never". */
export function checkMilliseconds(option: string, value: unknown, infiniteAllowed: boolean): void {
  if (value === undefined) return;
  const finiteOrAllowed = typeof value === 'number' && (Number.isFinite(value) || (infiniteAllowed && value === Number.POSITIVE_INFINITY));
  if (!finiteOrAllowed || value <= 0) {
    throw new RaftOptionsError(option, `must be a number of milliseconds above 0${infiniteAllowed ? ' (or Infinity)' : ''} (got ${describe(value)})`);
  }
}

export interface CheckedOptions {
  readonly id: unknown;
  readonly peers: unknown;
  readonly tickMs?: unknown;
  readonly electionTicks?: unknown;
  readonly heartbeatTicks?: unknown;
  readonly readMode?: unknown;
  readonly preVote?: unknown;
  readonly checkQuorum?: unknown;
  readonly maxInflight?: unknown;
  readonly maxBytesPerMessage?: unknown;
  readonly snapshotEvery?: unknown;
  readonly snapshotChunkBytes?: unknown;
  readonly requestTimeoutMs?: unknown;
  readonly limits?: unknown;
}

export function checkNodeOptions(options: CheckedOptions): void {
  if (typeof options.id !== 'string' || options.id === '') throw new RaftOptionsError('id', `must be a non-empty string (got ${describe(options.id)})`);
  if (!Array.isArray(options.peers) || !options.peers.every((peer) => typeof peer === 'string' && peer !== '')) {
    throw new RaftOptionsError('peers', `must be a list of node ids, [] for a node joining a cluster (got ${describe(options.peers)})`);
  }
  checkMilliseconds('tickMs', options.tickMs, false);
  positiveInteger('electionTicks', options.electionTicks);
  positiveInteger('heartbeatTicks', options.heartbeatTicks);
  // The defaults as the driver passes them to the core (10 and 2).
  const election = (options.electionTicks as number | undefined) ?? 10;
  const heartbeat = (options.heartbeatTicks as number | undefined) ?? 2;
  if (election <= heartbeat) throw new RaftOptionsError('electionTicks', `must be more than heartbeatTicks (${heartbeat}), or followers time out between heartbeats (got ${election})`);
  if (options.readMode !== undefined && options.readMode !== 'safe' && options.readMode !== 'lease') {
    throw new RaftOptionsError('readMode', `must be "safe" or "lease" (got ${describe(options.readMode)})`);
  }
  flag('preVote', options.preVote);
  flag('checkQuorum', options.checkQuorum);
  // A lease holds only while a cut-off leader steps down within it, which check-quorum does.
  if (options.readMode === 'lease' && options.checkQuorum === false) throw new RaftOptionsError('readMode', '"lease" needs checkQuorum, which is false');
  positiveInteger('maxInflight', options.maxInflight);
  positiveInteger('maxBytesPerMessage', options.maxBytesPerMessage);
  positiveInteger('snapshotEvery', options.snapshotEvery);
  positiveInteger('snapshotChunkBytes', options.snapshotChunkBytes);
  checkMilliseconds('requestTimeoutMs', options.requestTimeoutMs, true);
  if (options.limits !== undefined) {
    if (typeof options.limits !== 'object' || options.limits === null) throw new RaftOptionsError('limits', `must be an object (got ${describe(options.limits)})`);
    for (const [name, value] of Object.entries(options.limits)) positiveInteger(`limits.${name}`, value);
    // Nodes take chunks of at most limits.maxChunkBytes: larger ones of this node's would be
    // refused by every node configured as it is, and a follower needing a snapshot never caught up.
    const maxChunk = (options.limits as { maxChunkBytes?: number }).maxChunkBytes;
    if (maxChunk !== undefined && options.snapshotChunkBytes !== undefined && (options.snapshotChunkBytes as number) > maxChunk) {
      throw new RaftOptionsError('snapshotChunkBytes', `must be at most limits.maxChunkBytes (${maxChunk}), which nodes with these limits accept (got ${describe(options.snapshotChunkBytes)})`);
    }
  }
}
