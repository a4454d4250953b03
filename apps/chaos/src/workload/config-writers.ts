// Clients writing cluster-wide config (`node.config.setClusterWide`) while faults happen,
// alongside the key-value clients. They draw paths and values from the chaos config's vocabulary
// (src/cluster/chaos-config.ts): a key of the tuning object or the whole object, an index of the
// items array that exists or is the next one (read from the node's own config just before, as an
// application appending would), or the whole array, shorter. Some values the node refuses at
// once; some pass its check and are refused where they are applied, after a write committed just
// before them lowered the cap or shortened the array. Nothing here judges the outcomes: the check
// is that every node ends with the same config (src/checks/config-convergence.ts).
import { CONFIG_ERROR_CODES } from '@foundation/config';
import type { Random } from '@foundation/core';
import { CHAOS_ITEMS_MAX, CHAOS_MODES, CHAOS_VALUE_MAX } from '../cluster/chaos-config';
import { RemoteError } from '../cluster/node-process';
import { startClientLoops } from './client-loop';
import type { ClientLoopOptions } from './client-loop';
import { certainlyNotApplied } from './workload';
import type { RaftPosition } from './workload';

/**
 * ok: applied on every node that applies the log. refused: this node's check refused it, it
 * was never proposed. refused-where-applied: committed, and refused by the config where it was
 * applied (every node refuses it alike). fail: certainly not applied otherwise (not sent, a quick
 * not-applied code). unknown: timed out, the node went down, or an error that does not say.
 */
export type ConfigOutcome = 'ok' | 'refused' | 'refused-where-applied' | 'fail' | 'unknown';

export interface ConfigWrite {
  readonly client: number;
  readonly node: string;
  readonly path: string;
  readonly value: unknown;
  /** ms since the workload began. */
  readonly invokedMs: number;
  readonly completedMs: number;
  readonly outcome: ConfigOutcome;
  readonly code?: number;
  readonly error?: string;
  readonly raft?: RaftPosition;
}

export type ConfigWriteCounts = Readonly<Record<ConfigOutcome, number>>;

export interface ConfigWritersOptions extends Omit<ClientLoopOptions, 'name'> {
  readonly opTimeoutMs: number;
  /** ms since the workload began. */
  readonly now: () => number;
  /** Trust no "certainly not applied" code: such a write is unknown, as for the key-value clients. */
  readonly errorsAsInfo?: boolean;
}

export interface ConfigWriters {
  /** Every write so far, in the order they completed. */
  readonly writes: ConfigWrite[];
  /** Stops writing; resolves when every client's last write has completed or timed out. */
  stop(): Promise<void>;
}

/** The codes of @foundation/config's refusals: a setClusterWide that rejects with one was refused where it was applied. */
const CONFIG_REFUSAL_CODES: ReadonlySet<number> = new Set<number>(Object.values(CONFIG_ERROR_CODES));

interface ConfigSetAnswer {
  readonly outcome: 'ok' | 'refused';
  readonly code?: number;
  readonly message?: string;
  readonly raft?: RaftPosition;
}

/**
 * The outcome of a write that failed with `error` after `elapsedMs`: one of the config's refusal
 * codes says it was committed and refused where applied; otherwise it failed for certain or its
 * outcome is unknown, by the key-value clients' rule (`errorsAsInfo` as there).
 */
export function failedWriteOutcome(error: unknown, elapsedMs: number, errorsAsInfo = false): ConfigOutcome {
  const code = error instanceof RemoteError ? error.code : undefined;
  if (code !== undefined && CONFIG_REFUSAL_CODES.has(code)) return 'refused-where-applied';
  return certainlyNotApplied(error, elapsedMs, !errorsAsInfo) ? 'fail' : 'unknown';
}

/** How many writes ended each way. */
export function countConfigWrites(writes: readonly ConfigWrite[]): ConfigWriteCounts {
  const counts: Record<ConfigOutcome, number> = { ok: 0, refused: 0, 'refused-where-applied': 0, fail: 0, unknown: 0 };
  for (const write of writes) counts[write.outcome] += 1;
  return counts;
}

/** One path and value from the vocabulary; `itemCount` is how many items the node holds now. */
export function drawConfigWrite(random: Random, itemCount: number): { path: string; value: unknown } {
  // Values reach a little past the schema's range, so that some are refused at once.
  const number = (): number => random.int(0, CHAOS_VALUE_MAX + 10);
  const mode = (): string => random.pick([...CHAOS_MODES, 'turbo']);
  const draw = random.float();
  if (draw < 0.15) return { path: 'tuning.cap', value: random.int(20, CHAOS_VALUE_MAX + 1) };
  if (draw < 0.3) return { path: 'tuning.level', value: number() };
  if (draw < 0.35) return { path: 'tuning.mode', value: mode() };
  if (draw < 0.4) return { path: 'tuning.label', value: `l${random.int(0, 1000)}` };
  if (draw < 0.45) return { path: 'tuning', value: { cap: random.int(20, CHAOS_VALUE_MAX + 1), level: random.int(0, 40), mode: mode(), label: `w${random.int(0, 1000)}` } };
  if (draw < 0.9) {
    // An index that exists or the next one (an append), now and then one past it (a hole, refused).
    const index = random.float() < 0.05 ? itemCount + 1 : random.int(0, Math.min(itemCount, CHAOS_ITEMS_MAX) + 1);
    return { path: `items.${index}`, value: random.int(0, 70) };
  }
  return { path: 'items', value: Array.from({ length: random.int(0, 4) }, () => random.int(0, 40)) };
}

export function startConfigWriters(options: ConfigWritersOptions): ConfigWriters {
  const writes: ConfigWrite[] = [];
  const clients = startClientLoops({ ...options, name: 'config-client' }, (client, random) => async (node) => {
    let itemCount: number;
    try {
      const held = await node.call<{ config: { items?: unknown } }>('config', [], options.opTimeoutMs);
      itemCount = Array.isArray(held.config.items) ? held.config.items.length : 0;
    } catch {
      // No write was made: try again, on whichever node comes next.
      return 'retry';
    }
    const { path, value } = drawConfigWrite(random, itemCount);
    const invokedMs = options.now();
    const base = { client, node: node.name, path, value, invokedMs };
    let write: ConfigWrite;
    try {
      const answer = await node.call<ConfigSetAnswer>('config-set', [path, value], options.opTimeoutMs);
      write =
        answer.outcome === 'ok'
          ? { ...base, completedMs: options.now(), outcome: 'ok', ...(answer.raft === undefined ? {} : { raft: answer.raft }) }
          : { ...base, completedMs: options.now(), outcome: 'refused', ...(answer.code === undefined ? {} : { code: answer.code }), error: answer.message ?? 'refused' };
    } catch (error) {
      const code = error instanceof RemoteError ? error.code : undefined;
      const completedMs = options.now();
      const outcome = failedWriteOutcome(error, completedMs - invokedMs, options.errorsAsInfo);
      write = { ...base, completedMs, outcome, error: (error as Error).message, ...(code === undefined ? {} : { code }) };
    }
    writes.push(write);
    return 'done';
  });
  return { writes, stop: () => clients.stop() };
}
