import { FoundationError } from '@foundation/core';
import { MEMBERSHIP_ERROR_CODES } from './codes';

/**
 * `join()` did not get a first neighbour within `joinTimeoutMs`. The membership keeps retrying
 * its seeds in the background until `leave()`.
 */
export class JoinTimeoutError extends FoundationError {
  readonly node: string;
  readonly timeoutMs: number;
  readonly seeds: readonly string[];

  constructor(node: string, timeoutMs: number, seeds: readonly string[]) {
    super({
      type: 'membership_join_timeout',
      code: MEMBERSHIP_ERROR_CODES.joinTimeout,
      category: 'external',
      severity: 'high',
      retryStrategy: 'exponential_backoff',
      message: `node "${node}" found no neighbour within ${timeoutMs} ms (seeds: ${seeds.slice(0, 10).join(', ') || 'none'})`,
      context: { node, timeoutMs, seeds: seeds.slice(0, 32) },
    });
    this.node = node;
    this.timeoutMs = timeoutMs;
    this.seeds = seeds;
  }
}
