// Time to check a 10,000-operation, 100-key history from an atomic store (10 concurrent
// clients, 5% of operations ending in info), the size the testkit issue asks for.
import { createSeededRandom } from '@foundation/core';
import { checkLinearizability, kvModel } from '../src/index';
import { atomicHistory } from '../src/internal/history-generators';

export function checkerMilliseconds(operations: number, keys: number, seed: number): { ms: number; valid: unknown } {
  const events = atomicHistory(createSeededRandom(seed), { operations, processes: 10, keys, values: 20, infoRate: 0.05 });
  const start = performance.now();
  const result = checkLinearizability(events, kvModel());
  return { ms: performance.now() - start, valid: result.valid };
}
