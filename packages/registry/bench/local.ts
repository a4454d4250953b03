// Local performance: lookup throughput and discovery latency over 100,000 services, each beside
// an in-run baseline (a plain Map lookup; a linear scan over the same services).
import { createSeededRandom } from '@foundation/core';
import { createRegistry } from '../src/index';
import type { Registry, ServiceInstance } from '../src/index';
import { percentile } from '../../../tooling/scripts/bench';

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

export const SERVICES = 100_000;
const VOCABULARY = 200;

export interface Catalogue {
  readonly registry: Registry<string>;
  readonly names: string[];
  readonly capabilities: string[][];
  readonly registerPerSecond: number;
}

/**
 * 100,000 services, each with 4 capabilities drawn from 200 (so each capability has about
 * 2,000 services) plus one of two broad ones (`tier-0`/`tier-1`, 50,000 each).
 */
export function buildCatalogue(): Catalogue {
  const random = createSeededRandom(9);
  const registry = createRegistry<string>({ nodeId: 'bench', incarnation: 1, random, limits: { maxLocalServices: SERVICES } });
  const names: string[] = [];
  const capabilities: string[][] = [];
  for (let index = 0; index < SERVICES; index += 1) {
    const own = new Set<string>();
    while (own.size < 4) own.add(`cap-${random.int(0, VOCABULARY)}`);
    own.add(`tier-${index % 2}`);
    names.push(`service-${index}`);
    capabilities.push([...own]);
  }
  const started = now();
  for (let index = 0; index < SERVICES; index += 1) {
    registry.register(names[index]!, `tcp://10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}:7000`, { capabilities: capabilities[index]!, version: `1.${index % 10}.0` });
  }
  const registerPerSecond = SERVICES / ((now() - started) / 1000);
  return { registry, names, capabilities, registerPerSecond };
}

/** Lookups per second over `names` in a random order, median of runs; and the plain Map baseline. */
export function lookupRates(catalogue: Catalogue, runs: number): { registry: number; map: number } {
  const random = createSeededRandom(11);
  const order = Array.from({ length: 1_000_000 }, () => catalogue.names[random.int(0, catalogue.names.length)]!);
  const map = new Map<string, string>();
  for (const name of catalogue.names) map.set(name, catalogue.registry.lookup(name));
  const measure = (lookup: (name: string) => string): number => {
    let sink = 0;
    const started = now();
    for (let index = 0; index < order.length; index += 1) sink += lookup(order[index]!).length;
    const seconds = (now() - started) / 1000;
    if (sink === 0) console.log('unreachable');
    return order.length / seconds;
  };
  const registryRates: number[] = [];
  const mapRates: number[] = [];
  const registry = catalogue.registry;
  for (let run = 0; run < runs; run += 1) {
    registryRates.push(measure((name) => registry.lookup(name)));
    mapRates.push(measure((name) => map.get(name)!));
  }
  const middle = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return { registry: middle(registryRates), map: middle(mapRates) };
}

export interface Latencies {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly meanResults: number;
}

function latencies(samples: number[], results: number): Latencies {
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 0.5) * 1000, p99: percentile(samples, 0.99) * 1000, max: samples[samples.length - 1]! * 1000, meanResults: results / samples.length };
}

/** The median, over `passes`, of each pass's figures: a shared machine preempts now and then. */
function medianOf(passes: Latencies[]): Latencies {
  const middle = (pick: (latencies: Latencies) => number): number => passes.map(pick).sort((a, b) => a - b)[Math.floor(passes.length / 2)]!;
  return { p50: middle((l) => l.p50), p99: middle((l) => l.p99), max: middle((l) => l.max), meanResults: middle((l) => l.meanResults) };
}

/**
 * `discover` by two capabilities: typical pairs (≈2,000 services each) and broad pairs (a 50%
 * tier plus one); each over `passes` passes of `queries` queries, the median pass reported.
 */
export function discoverLatencies(catalogue: Catalogue, queries: number, passes = 5): { typical: Latencies; broad: Latencies; scan: Latencies } {
  const random = createSeededRandom(13);
  const registry = catalogue.registry;
  const run = (pick: () => string[], count: number): Latencies => {
    const samples: number[] = [];
    let results = 0;
    for (let index = 0; index < count; index += 1) {
      const capabilities = pick();
      const started = now();
      results += registry.discover({ capabilities }).length;
      samples.push(now() - started);
    }
    return latencies(samples, results);
  };
  const typicalPair = (): string[] => {
    const first = random.int(0, VOCABULARY);
    let second = random.int(0, VOCABULARY);
    while (second === first) second = random.int(0, VOCABULARY);
    return [`cap-${first}`, `cap-${second}`];
  };
  run(typicalPair, 2000); // warm-up
  const typical = medianOf(Array.from({ length: passes }, () => run(typicalPair, queries)));
  const broad = medianOf(Array.from({ length: passes }, () => run(() => [`tier-${random.int(0, 2)}`, `cap-${random.int(0, VOCABULARY)}`], queries)));
  // Baseline: the same typical queries by a linear scan over every instance.
  const all: ServiceInstance<string>[] = registry.discover({ health: 'any' });
  const scanSamples: number[] = [];
  let scanResults = 0;
  for (let index = 0; index < 300; index += 1) {
    const [first, second] = typicalPair();
    const started = now();
    let found = 0;
    for (const instance of all) if (instance.health === 'healthy' && instance.capabilities.includes(first!) && instance.capabilities.includes(second!)) found += 1;
    scanSamples.push(now() - started);
    scanResults += found;
  }
  return { typical, broad, scan: latencies(scanSamples, scanResults) };
}
