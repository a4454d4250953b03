import { describe, expect, it } from '@jest/globals';
import { joinPieces } from './join-pieces';
import type { OriginDelta } from './replica';

/** A delta of `node` with only covers and keys: what joining looks at besides the changes. */
function delta(node: string, covers: [number, number][], keys: string[] | undefined, extra: Partial<OriginDelta> = {}): OriginDelta {
  return {
    node,
    incarnation: 1,
    covers: covers.map(([low, high]) => ({ low, high })),
    entries: [],
    removed: [],
    keys: keys?.map((id, index) => ({ id, revision: index + 1 })),
    ...extra,
  };
}

const shape = (deltas: readonly OriginDelta[]) =>
  deltas.map((joined) => [joined.node, joined.incarnation, joined.life, joined.covers.map(({ low, high }) => [low, high]), joined.keys?.map(({ id }) => id)]);

describe('joinPieces', () => {
  const cases: { name: string; input: OriginDelta[]; expected: unknown[] }[] = [
    {
      name: 'deltas without a key list stay as they are, one by one',
      input: [delta('a', [[1, 2]], undefined), delta('a', [[3, 3]], undefined)],
      expected: [
        ['a', 1, undefined, [[1, 2]], undefined],
        ['a', 1, undefined, [[3, 3]], undefined],
      ],
    },
    {
      name: 'key-listed pieces of one origin become one delta, in the place of the first',
      input: [delta('a', [[4, 6]], ['a/4']), delta('b', [[1, 1]], undefined), delta('a', [[1, 3]], ['a/1']), delta('a', [[8, 9]], [])],
      expected: [
        ['a', 1, undefined, [[1, 6], [8, 9]], ['a/4', 'a/1']],
        ['b', 1, undefined, [[1, 1]], undefined],
      ],
    },
    {
      name: 'another incarnation or life id is another delta',
      input: [delta('a', [[1, 1]], []), delta('a', [[2, 2]], [], { incarnation: 2 }), delta('a', [[3, 3]], [], { life: 'l1' }), delta('a', [[4, 4]], [], { life: 'l1' })],
      expected: [
        ['a', 1, undefined, [[1, 1]], []],
        ['a', 2, undefined, [[2, 2]], []],
        ['a', 1, 'l1', [[3, 4]], []],
      ],
    },
  ];
  for (const { name, input, expected } of cases) {
    it(name, () => {
      const { origins, rejected } = joinPieces(input, 'peer');
      expect(rejected).toEqual([]);
      expect(shape(origins)).toEqual(expected);
    });
  }

  it('joins the changes of every piece, in order', () => {
    const first = delta('a', [[1, 1]], ['a/1'], { removed: [{ id: 'a/1/0', revision: 1 }] });
    const second = delta('a', [[2, 2]], ['a/2'], { removed: [{ id: 'a/1/9', revision: 2 }] });
    const [joined] = joinPieces([first, second], 'peer').origins;
    expect(joined!.removed).toEqual([...first.removed, ...second.removed]);
  });

  it('refuses the key-listed deltas of an origin that cover more separate ranges than any context holds', () => {
    const input = [...Array.from({ length: 66 }, (_, index) => delta('a', [[index * 2 + 1, index * 2 + 1]], [])), delta('b', [[1, 1]], [])];
    const { origins, rejected } = joinPieces(input, 'peer');
    expect(rejected.map((error) => error.code)).toEqual([5604]);
    expect(rejected[0]!.message).toMatch(/node "a" cover more than 65 separate ranges/);
    expect(shape(origins)).toEqual([['b', 1, undefined, [[1, 1]], []]]);
  });
});
