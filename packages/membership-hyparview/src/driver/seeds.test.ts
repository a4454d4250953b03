// The bound every seed source goes through (boundSeeds), as a table, and in a membership: a static
// list or a provider's answer of 100,000 entries, or of one address many times over.
import { describe, expect, it } from '@jest/globals';
import { FoundationError } from '@foundation/core';
import { createSimulation, seedFromEnvironment } from '@foundation/testkit';
import { defaultLocalConfig } from '../core/config';
import type { JoinTimeoutError } from '../errors/join-timeout-error';
import { createMembership } from './membership';
import { boundSeeds, staticSeeds } from './seeds';
import { recordingTransport } from '../../test/support/recording-transport';

const seed = Number(seedFromEnvironment(4_242));

describe('boundSeeds', () => {
  const asIs = (entry: string | undefined): string | undefined => entry;
  it.each([
    { case: 'keeps the order given', entries: ['c', 'a', 'b'], max: 10, expected: ['c', 'a', 'b'] },
    { case: 'drops repeats, keeping the first', entries: ['a', 'b', 'a', 'c', 'b'], max: 10, expected: ['a', 'b', 'c'] },
    { case: 'stops at the bound', entries: ['a', 'b', 'c', 'd'], max: 2, expected: ['a', 'b'] },
    { case: 'counts an id once towards the bound', entries: ['a', 'a', 'a', 'b', 'c'], max: 2, expected: ['a', 'b'] },
    { case: 'skips what maps to nothing or to an empty id', entries: [undefined, '', 'a'], max: 10, expected: ['a'] },
    { case: 'gives nothing for a bound below one', entries: ['a'], max: 0, expected: [] },
    { case: 'gives nothing for a bound that is not a number', entries: ['a'], max: Number.NaN, expected: [] },
  ])('$case', ({ entries, max, expected }) => {
    expect(boundSeeds(entries, max, asIs)).toEqual(expected);
  });

  it('maps entries to node ids', () => {
    expect(boundSeeds([{ host: 'h', port: 1 }, { host: 'h', port: 1 }, { host: 'k', port: 2 }], 10, (address) => `${address.host}:${address.port}`)).toEqual(['h:1', 'k:2']);
  });
});

const many = Array.from({ length: 100_000 }, (_, index) => `node-${index}`);
const repeated = [...Array.from({ length: 1_000 }, () => 'node-a'), 'node-b', ...Array.from({ length: 1_000 }, () => 'node-b')];

describe('seeds in a membership', () => {
  // A full mesh calls every seed it has (up to fullMesh.maxMembers, raised here out of the way),
  // so what it calls shows the seeds in use; join() times out, and its error lists them too.
  it.each([
    { source: 'a static list of 100,000 node ids', seeds: many, expected: many.slice(0, 256) },
    { source: "a provider's answer of 100,000 node ids", seeds: { name: 'many', resolve: () => many }, expected: many.slice(0, 256) },
    { source: "a provider's late answer of 100,000 node ids", seeds: { name: 'many', resolve: () => Promise.resolve(many) }, expected: many.slice(0, 256) },
    { source: 'a static list naming two nodes 1,000 times each', seeds: staticSeeds(repeated), expected: ['node-a', 'node-b'] },
    { source: "a provider's answer naming two nodes 1,000 times each", seeds: { name: 'repeated', resolve: () => Promise.resolve(repeated) }, expected: ['node-a', 'node-b'] },
  ])(`$source: each seed is used once and no more than maxSeeds (256) of them (seed=${seed})`, async ({ seeds, expected }) => {
    // Only DNS answers were bounded and de-duplicated: the node called 100,000 seeds and kept
    // each list whole, a repeated id as often as it came.
    const simulation = createSimulation({ seed });
    const transport = recordingTransport('self');
    const membership = createMembership({
      nodeId: 'self',
      transport,
      clock: simulation.clock,
      random: simulation.random,
      topology: 'full-mesh',
      seeds,
      config: { ...defaultLocalConfig(), fullMesh: { maxMembers: 200_000 } },
    });
    const joined = membership.join().then(
      () => undefined,
      (error: unknown) => error,
    );
    await simulation.runForAsync(defaultLocalConfig().joinTimeoutMs);
    const failure = await joined;
    expect(FoundationError.hasType(failure, 5903)).toBe(true);
    expect((failure as JoinTimeoutError).seeds).toEqual(expected);
    expect([...transport.contacted].sort()).toEqual([...expected].sort());
    const left = membership.leave();
    await simulation.runForAsync(1_000);
    await left;
  });

  it('rejects a maxSeeds below one or not an integer', () => {
    const transport = recordingTransport('self');
    expect(() => createMembership({ nodeId: 'self', transport, config: { maxSeeds: 0 } })).toThrow(/maxSeeds/);
    expect(() => createMembership({ nodeId: 'self', transport, config: { maxSeeds: 1.5 } })).toThrow(/maxSeeds/);
  });
});
