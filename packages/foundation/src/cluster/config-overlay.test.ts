import { describe, expect, it } from '@jest/globals';
import { ConfigOverlay } from './config-overlay';

describe('ConfigOverlay.outermostAssigned', () => {
  /** An overlay with values at `a.b` and `c`, and at the whole config when `root`. */
  const overlayOf = (root: boolean): ConfigOverlay => {
    const overlay = new ConfigOverlay();
    if (root) overlay.set([], { a: {} });
    overlay.set(['a', 'b'], 1);
    overlay.set(['c'], 2);
    return overlay;
  };
  it.each([
    // root, path, includeRoot, outermost
    [false, [], false, undefined],
    [false, [], true, undefined],
    [false, ['a'], false, undefined],
    [false, ['a', 'b'], false, ['a', 'b']],
    [false, ['a', 'b', 'x'], false, ['a', 'b']],
    [false, ['a', 'b', 'x'], true, ['a', 'b']],
    [false, ['c', 'x'], false, ['c']],
    [false, ['d'], true, undefined],
    // The whole config's value is the empty path's own, and the others' only with includeRoot.
    [true, [], false, []],
    [true, [], true, []],
    [true, ['a', 'b', 'x'], false, ['a', 'b']],
    [true, ['a', 'b', 'x'], true, []],
    [true, ['d'], false, undefined],
    [true, ['d'], true, []],
  ] as const)('with a root value %p, of %j (includeRoot %p), is %j', (root, path, includeRoot, outermost) => {
    expect(overlayOf(root).outermostAssigned(path, { includeRoot })).toEqual(outermost);
  });
});
