// Routing strategies: which of several matching instances gets the next request. Pure: the
// caller passes the candidates (sorted by id, so that positions mean the same on every call),
// its Random, and the per-route state it keeps (a round-robin counter).
import type { Random } from '@foundation/core';
import { mix32 } from '@foundation/core';
import type { ServiceInstance } from './types';

export type RoutingStrategy = 'round-robin' | 'random' | 'least-loaded' | 'weighted' | 'local-first' | 'consistent-hash';

export const ROUTING_STRATEGIES: readonly RoutingStrategy[] = ['round-robin', 'random', 'least-loaded', 'weighted', 'local-first', 'consistent-hash'];

export interface RoutingContext {
  readonly random: Random;
  /** This node, for `local-first`. */
  readonly nodeId: string;
  /** This node's zone, for `local-first`. */
  readonly zone: string | undefined;
  /** The key for `consistent-hash`. */
  readonly key: string | undefined;
  /** Round-robin position for this route, advanced by the caller. */
  readonly counter: number;
}

/** Ties broken at random, so that equal instances share the traffic. */
function pickMinimum(candidates: readonly ServiceInstance[], score: (instance: ServiceInstance) => number, random: Random): ServiceInstance {
  let best = Number.POSITIVE_INFINITY;
  let ties: ServiceInstance[] = [];
  for (const instance of candidates) {
    const value = score(instance);
    if (value < best) {
      best = value;
      ties = [instance];
    } else if (value === best) ties.push(instance);
  }
  return ties.length === 1 ? ties[0]! : random.pick(ties);
}

/** FNV-1a over `text` from state `state`: core's `hashString32(text, seed)` is `mix32(fnv(seed, text))`. */
function fnv(state: number, text: string): number {
  let h = state;
  for (let index = 0; index < text.length; index += 1) {
    h ^= text.charCodeAt(index);
    h = Math.imul(h, 0x0100_0193);
  }
  return h;
}

/** hashString32's default seed (FNV's offset basis) and the second seed of the pair. */
const FNV_OFFSET = 0x811c_9dc5;
const SECOND_SEED = 0x9e37_79b9;

/**
 * Rendezvous (highest random weight) hashing, Thaler and Ravishankar 1998: every instance gets
 * a score from hash(key, instance id) and the highest wins. The same key goes to the same
 * instance on every node that sees the same candidates, and when one instance leaves only the
 * keys it held move.
 *
 * The score is `hashString32` of `${key}\0${id}` with two seeds. FNV reads its input in order,
 * so the key's part is hashed once and its state carried into each id: a long key (whatever a
 * request carries) costs its length once, not once per instance, for the same scores.
 */
export function rendezvous(candidates: readonly ServiceInstance[], key: string): ServiceInstance {
  let best: ServiceInstance | undefined;
  let bestHigh = -1;
  let bestLow = -1;
  const keyHigh = fnv(FNV_OFFSET, key + '\u0000');
  const keyLow = fnv(SECOND_SEED, key + '\u0000');
  for (const instance of candidates) {
    const high = mix32(fnv(keyHigh, instance.id));
    const low = mix32(fnv(keyLow, instance.id));
    if (high > bestHigh || (high === bestHigh && low > bestLow)) {
      best = instance;
      bestHigh = high;
      bestLow = low;
    }
  }
  return best!;
}

/**
 * One instance of `candidates` (non-empty, sorted by id) by `strategy`; undefined only for
 * `weighted` when no candidate has a positive weight.
 */
export function choose(strategy: RoutingStrategy, candidates: readonly ServiceInstance[], context: RoutingContext): ServiceInstance | undefined {
  switch (strategy) {
    case 'round-robin':
      return candidates[context.counter % candidates.length];
    case 'random':
      return context.random.pick(candidates);
    case 'least-loaded':
      return pickMinimum(candidates, (instance) => instance.load, context.random);
    case 'weighted': {
      let total = 0;
      for (const instance of candidates) total += instance.weight;
      if (!(total > 0)) return undefined;
      let point = context.random.float() * total;
      for (const instance of candidates) {
        if (instance.weight <= 0) continue;
        point -= instance.weight;
        if (point < 0) return instance;
      }
      // Floating-point rounding can leave a sliver at the end: it belongs to the last weighted instance.
      for (let index = candidates.length - 1; index >= 0; index -= 1) if (candidates[index]!.weight > 0) return candidates[index];
      return undefined;
    }
    case 'local-first':
      // The 2.0 design's preference: this node, then this zone, then the lowest load.
      return pickMinimum(
        candidates,
        (instance) => {
          const tier = instance.node === context.nodeId ? 0 : context.zone !== undefined && instance.zone === context.zone ? 1 : 2;
          return tier * 1e13 + Math.min(instance.load, 1e12);
        },
        context.random,
      );
    case 'consistent-hash':
      return rendezvous(candidates, context.key ?? '');
  }
}
