// Folding a restored snapshot's config commands: the table below lists runs of commands, in log
// order, and the assignments they come to. Each case is also checked against the definition:
// setting the assignments leaves a config where setting the commands one by one leaves it.
import { describe, expect, it } from '@jest/globals';
import { createConfig } from '@foundation/config';
import { foldConfigCommands } from './fold-config-commands';
import type { ConfigAssignment } from './fold-config-commands';

const set = (dotted: string, value: unknown): ConfigAssignment => ({ path: dotted === '' ? [] : dotted.split('.'), value });

const defaults = { limits: { rate: 10, burst: 5 }, hosts: ['a', 'b'], mode: 'normal' };

const cases: [string, ConfigAssignment[], ConfigAssignment[], ConfigAssignment[]][] = [
  ['nothing', [], [], []],
  ['disjoint paths stay as they are, in order', [set('limits.rate', 1), set('mode', 'x')], [set('limits.rate', 1), set('mode', 'x')], []],
  ['a later command at the same path replaces the earlier', [set('mode', 'x'), set('limits.rate', 1), set('mode', 'y')], [set('limits.rate', 1), set('mode', 'y')], []],
  ['a later command above replaces everything under it', [set('limits.rate', 1), set('limits.burst', 2), set('limits', { rate: 3 })], [set('limits', { rate: 3 })], []],
  ['a later command below is written into the earlier one', [set('limits', { rate: 1, burst: 2 }), set('limits.rate', 30)], [set('limits', { rate: 30, burst: 2 })], []],
  ['a new key below an earlier one is added to it', [set('limits', { rate: 1 }), set('limits.burst', 7)], [set('limits', { rate: 1, burst: 7 })], []],
  ['folding goes down more than one level', [set('limits', { nested: { deep: 1 } }), set('limits.nested.deep', 2), set('limits.nested.other', 3)], [set('limits', { nested: { deep: 2, other: 3 } })], []],
  ['arrays take an existing index or the next one', [set('hosts', ['x']), set('hosts.0', 'y'), set('hosts.1', 'z')], [set('hosts', ['y', 'z'])], []],
  ['a command whose parent the earlier value lacks is refused', [set('limits', { rate: 1 }), set('limits.nested.deep', 2)], [set('limits', { rate: 1 })], [set('limits.nested.deep', 2)]],
  ['an index past the end of an earlier array is refused', [set('hosts', ['x']), set('hosts.5', 'y')], [set('hosts', ['x'])], [set('hosts.5', 'y')]],
  ['a refused command goes when a later command replaces its part', [set('limits', { rate: 1 }), set('limits.nested.deep', 2), set('limits.nested', { deep: 4 })], [set('limits', { rate: 1, nested: { deep: 4 } })], []],
  ['the whole config replaces everything before it', [set('mode', 'x'), set('limits.rate', 2), set('', { mode: 'y' })], [set('', { mode: 'y' })], []],
];

describe('foldConfigCommands', () => {
  it.each(cases)('%s', (_name, commands, assignments, refused) => {
    const before = JSON.stringify(commands);
    expect(foldConfigCommands(commands)).toEqual({ assignments, refused });
    expect(JSON.stringify(commands)).toBe(before); // the state machine's commands are never changed

    const oneByOne = createConfig({ defaults, updatablePaths: [[]] });
    for (const command of commands) oneByOne.safeUpdate(command.path, command.value);
    const folded = createConfig({ defaults, updatablePaths: [[]] });
    for (const assignment of [...assignments, ...refused]) folded.safeUpdate(assignment.path, assignment.value);
    expect(folded.get()).toEqual(oneByOne.get());
  });
});

describe('foldConfigCommands on many paths', () => {
  it('reads each command\'s path a bounded number of times, however many commands there are (review finding)', () => {
    // Every command was compared with every assignment kept so far: a snapshot holding the
    // newest value of 20,000 paths took seconds to fold (100,000 took minutes), all of it with
    // the node's Raft loop stopped, and any member can set that many paths. Counted here as
    // reads of the commands' paths, which grew with the square of their number.
    let reads = 0;
    const counted = (path: string[]): string[] =>
      new Proxy(path, {
        get(target, property, receiver) {
          reads += 1;
          return Reflect.get(target, property, receiver) as unknown;
        },
      });
    const count = 4_000;
    const commands: ConfigAssignment[] = Array.from({ length: count }, (_, index) => ({ path: counted(['limits', `key${index % 1_000}`, `leaf${index}`]), value: index }));
    commands.push({ path: counted(['limits', 'key7']), value: 'above' });
    const { assignments, refused } = foldConfigCommands(commands);
    expect(assignments.length).toBe(count - 4 + 1); // key7's four leaves were replaced
    expect(assignments.at(-1)).toEqual({ path: ['limits', 'key7'], value: 'above' });
    expect(refused).toEqual([]);
    expect(reads).toBeLessThan(40 * count);
  });
});

/** The fold as it was written first, comparing each command with every one kept: the reference. */
function foldByComparingAll(commands: readonly ConfigAssignment[]): { assignments: ConfigAssignment[]; refused: ConfigAssignment[] } {
  const isPrefix = (prefix: readonly string[], path: readonly string[]): boolean => prefix.length <= path.length && prefix.every((key, position) => path[position] === key);
  let assignments: ConfigAssignment[] = [];
  let refused: ConfigAssignment[] = [];
  for (const command of commands) {
    assignments = assignments.filter((earlier) => !isPrefix(command.path, earlier.path));
    refused = refused.filter((earlier) => !isPrefix(command.path, earlier.path));
    const position = assignments.findIndex((earlier) => isPrefix(earlier.path, command.path));
    if (position === -1) {
      assignments.push(command);
      continue;
    }
    // Written into the earlier value as the fold does: compared through the fold of the pair.
    const above = assignments[position]!;
    const pair = foldConfigCommands([above, command]);
    if (pair.refused.length > 0) refused.push(command);
    else assignments[position] = pair.assignments[0]!;
  }
  return { assignments, refused };
}

describe('foldConfigCommands against the fold that compares every pair', () => {
  it('gives the same assignments and refusals, in the same order, for seeded random runs of commands', () => {
    let seed = 42;
    const random = (below: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % below;
    };
    const keys = ['a', 'b', '0', '1'];
    const value = (depth: number): unknown => {
      const kind = random(depth > 1 ? 2 : 4);
      if (kind === 0) return random(10);
      if (kind === 1) return null;
      if (kind === 2) return Array.from({ length: random(3) }, () => value(depth + 1));
      return Object.fromEntries(keys.filter(() => random(2) === 0).map((key) => [key, value(depth + 1)]));
    };
    for (let run = 0; run < 500; run += 1) {
      const commands = Array.from({ length: 1 + random(12) }, () => ({ path: Array.from({ length: random(4) }, () => keys[random(keys.length)]!), value: value(0) }));
      expect(foldConfigCommands(commands)).toEqual(foldByComparingAll(commands));
    }
  });
});
