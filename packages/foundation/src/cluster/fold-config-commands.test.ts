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
