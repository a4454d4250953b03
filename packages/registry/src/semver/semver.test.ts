import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { FoundationError } from '@foundation/core';
import { isValidRange, parseRange } from './range';
import { satisfies } from './satisfies';
import { compareVersions, isValidVersion, parseVersion } from './version';

describe('versions (semver 2.0.0)', () => {
  it('parses the parts, a pre-release and build metadata, and drops a leading v', () => {
    const version = parseVersion('v1.20.3-rc.1.x-y+build.7');
    expect(version).toMatchObject({ major: 1, minor: 20, patch: 3, prerelease: ['rc', 1, 'x-y'], build: ['build', '7'], text: '1.20.3-rc.1.x-y+build.7' });
  });

  it.each([
    ['', 'empty'],
    ['1.2', 'MAJOR.MINOR.PATCH'],
    ['1.2.3.4', 'MAJOR.MINOR.PATCH'],
    ['01.2.3', 'leading zeros'],
    ['1.2.3-01', 'leading zero'],
    ['1.2.3-', 'empty'],
    ['1.2.3-a..b', 'empty'],
    ['1.2.3+', 'build identifiers'],
    ['1.2.3+a+b', 'build identifiers'],
    ['1.2.3-é', 'outside'],
    ['99999999999999999999.0.0', '2^53'],
    [`1.2.3-${'a'.repeat(300)}`, 'longer than 256'],
  ])('refuses %j with code 5602 (%s)', (text, reason) => {
    let thrown: unknown;
    try {
      parseVersion(text);
    } catch (error) {
      thrown = error;
    }
    expect(FoundationError.hasType(thrown, 5602)).toBe(true);
    expect((thrown as Error).message).toContain(reason);
  });

  it('refuses what is not a string', () => {
    expect(() => parseVersion(3)).toThrow(/a version is a string/);
    expect(isValidVersion({})).toBe(false);
  });

  it('orders by precedence as semver.org §11 lists it, ignoring build metadata', () => {
    const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '2.0.0'];
    for (let left = 0; left < ordered.length; left += 1) {
      for (let right = 0; right < ordered.length; right += 1) {
        expect(Math.sign(compareVersions(parseVersion(ordered[left]), parseVersion(ordered[right])))).toBe(Math.sign(left - right));
      }
    }
    expect(compareVersions(parseVersion('1.0.0+a'), parseVersion('1.0.0+b'))).toBe(0);
  });

  it('is a total preorder: antisymmetric and transitive (property)', () => {
    const identifier = fc.oneof(fc.nat({ max: 20 }).map(String), fc.constantFrom('alpha', 'beta', 'rc', 'x-1'));
    const version = fc
      .tuple(fc.nat({ max: 3 }), fc.nat({ max: 3 }), fc.nat({ max: 3 }), fc.array(identifier, { maxLength: 3 }))
      .map(([major, minor, patch, pre]) => parseVersion(`${major}.${minor}.${patch}${pre.length > 0 ? `-${pre.join('.')}` : ''}`));
    fc.assert(
      fc.property(version, version, version, (a, b, c) => {
        // A sum, not toBe(-sign): for equal versions -Math.sign(0) is -0, which toBe tells from 0.
        expect(Math.sign(compareVersions(a, b)) + Math.sign(compareVersions(b, a))).toBe(0);
        if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) expect(compareVersions(a, c)).toBeLessThanOrEqual(0);
      }),
      { seed: 5602, numRuns: 500 },
    );
  });
});

describe('ranges', () => {
  // [range, version, satisfies?] — the meanings node-semver documents for the same syntax.
  it.each<[string, string, boolean]>([
    ['1.2.3', '1.2.3', true],
    ['=1.2.3', '1.2.3+build', true],
    ['1.2.3', '1.2.4', false],
    ['*', '0.0.0', true],
    ['*', '9.9.9', true],
    ['', '1.0.0', true],
    ['x', '3.1.4', true],
    ['*', '1.0.0-rc.1', false],
    ['1', '1.9.9', true],
    ['1', '2.0.0', false],
    ['1.x', '1.0.0', true],
    ['1.X', '0.9.9', false],
    ['1.2', '1.2.9', true],
    ['1.2.x', '1.3.0', false],
    ['1.2.*', '1.2.0', true],
    ['>1.2.3', '1.2.4', true],
    ['>1.2.3', '1.2.3', false],
    ['>1.2', '1.2.9', false],
    ['>1.2', '1.3.0', true],
    ['>1', '2.0.0', true],
    ['>1', '1.9.9', false],
    ['>=1.2.3', '1.2.3', true],
    ['>= 1.2.3', '1.2.2', false],
    ['>=1.2', '1.2.0', true],
    ['<1.2.3', '1.2.2', true],
    ['<1.2.3', '1.2.3', false],
    ['<1.2', '1.1.9', true],
    ['<1.2', '1.2.0', false],
    ['<1', '0.9.0', true],
    ['<=1.2.3', '1.2.3', true],
    ['<=1.2', '1.2.99', true],
    ['<=1.2', '1.3.0', false],
    ['<=1', '1.99.0', true],
    ['>*', '1.0.0', false],
    ['<*', '0.0.0', false],
    ['~1.2.3', '1.2.9', true],
    ['~1.2.3', '1.3.0', false],
    ['~1.2.3', '1.2.2', false],
    ['~1.2', '1.2.0', true],
    ['~1', '1.9.0', true],
    ['~1', '2.0.0', false],
    ['~>1.2.3', '1.2.5', true],
    ['~0.2.3', '0.2.9', true],
    ['~0.2.3', '0.3.0', false],
    ['~1.2.3-beta.2', '1.2.3-beta.4', true],
    ['~1.2.3-beta.2', '1.2.4-beta.2', false],
    ['~1.2.3-beta.2', '1.2.4', true],
    ['^1.2.3', '1.9.9', true],
    ['^1.2.3', '2.0.0', false],
    ['^1.2.3', '1.2.2', false],
    ['^1.2.3', '2.0.0-alpha', false],
    ['^0.2.3', '0.2.9', true],
    ['^0.2.3', '0.3.0', false],
    ['^0.0.3', '0.0.3', true],
    ['^0.0.3', '0.0.4', false],
    ['^1.2.3-beta.2', '1.2.3-beta.4', true],
    ['^1.2.3-beta.2', '1.2.4-beta.2', false],
    ['^0.0.3-beta', '0.0.3-pr.2', true],
    ['^1.2.x', '1.9.0', true],
    ['^1.2.x', '1.1.0', false],
    ['^0.0.x', '0.0.9', true],
    ['^0.0.x', '0.1.0', false],
    ['^0.0', '0.0.1', true],
    ['^1.x', '1.5.0', true],
    ['^0.x', '0.9.0', true],
    ['^0.x', '1.0.0', false],
    ['^*', '3.0.0', true],
    ['1.2.3 - 2.3.4', '1.2.3', true],
    ['1.2.3 - 2.3.4', '2.3.4', true],
    ['1.2.3 - 2.3.4', '2.3.5', false],
    ['1.2 - 2.3.4', '1.2.0', true],
    ['1.2.3 - 2.3', '2.3.9', true],
    ['1.2.3 - 2.3', '2.4.0', false],
    ['1.2.3 - 2', '2.9.9', true],
    ['1.2.3 - 2', '3.0.0', false],
    ['>=1.0.0 <2.0.0', '1.5.0', true],
    ['>=1.0.0 <2.0.0', '2.0.0', false],
    ['>=1.0.0 <2.0.0', '0.9.0', false],
    ['>= 1.0.0 < 2.0.0', '1.0.0', true],
    ['^1.0.0 || ^3.0.0', '3.1.0', true],
    ['^1.0.0 || ^3.0.0', '2.1.0', false],
    ['<1.0.0 || >=2.0.0 <2.1.0 || 5.x', '2.0.5', true],
    ['<1.0.0 || >=2.0.0 <2.1.0 || 5.x', '5.99.0', true],
    ['<1.0.0 || >=2.0.0 <2.1.0 || 5.x', '4.0.0', false],
    ['>1.2.3-alpha.3', '1.2.3-alpha.7', true],
    ['>1.2.3-alpha.3', '3.4.5-alpha.9', false],
    ['>1.2.3-alpha.3', '3.4.5', true],
    ['>=1.3.0-beta.0', '1.3.0-beta.1', true],
    ['>=1.3.0-beta.0', '1.4.0-beta.1', false],
    ['v1.2.3', '1.2.3', true],
    // Wildcards after a wildcard are still wildcards.
    ['1.x.x', '1.9.9', true],
    ['1.*.X', '2.0.0', false],
    ['x.x.x', '7.0.1', true],
  ])('%j against %s → %s', (range, version, expected) => {
    expect(satisfies(version, range)).toBe(expected);
  });

  it.each([
    ['1.2.3.4', 'not a version'],
    ['>=', 'no version'],
    ['^', 'no version'],
    ['1.2.3 ||', 'empty alternative'],
    ['|| 1.2.3', 'empty alternative'],
    ['1.x.x-beta', 'needs MAJOR.MINOR.PATCH'],
    // A number after a wildcard: node-semver takes `1.x.3` as `1.x` and `x.1.2` as `*`,
    // dropping the number unsaid; refused here, as a range that does not say what it means.
    ['x.1.2', 'a wildcard followed by a number'],
    ['1.x.3', 'a wildcard followed by a number'],
    ['*.1', 'a wildcard followed by a number'],
    ['1.X.0', 'a wildcard followed by a number'],
    ['x.x.1', 'a wildcard followed by a number'],
    ['^1.*.3', 'a wildcard followed by a number'],
    ['>=1.x.3', 'a wildcard followed by a number'],
    ['1.x.3-beta', 'a wildcard followed by a number'],
    ['1.2.3 - x.1', 'a wildcard followed by a number'],
    ['1.2.3-01', 'leading zero'],
    ['!1.2.3', 'not a version'],
    ['>=1.2.3\n', 'printable ASCII'],
    ['1.0.0 '.repeat(60), 'longer than 256'],
    [Array.from({ length: 17 }, () => '1.0.0').join('||'), 'alternatives'],
    [Array.from({ length: 33 }, () => '1.0.0').join(' '), 'comparators'],
  ])('refuses %j with code 5603 (%s)', (range, reason) => {
    let thrown: unknown;
    try {
      parseRange(range);
    } catch (error) {
      thrown = error;
    }
    expect(FoundationError.hasType(thrown, 5603)).toBe(true);
    expect((thrown as Error).message).toContain(reason);
  });

  it('refuses non-strings and checks versions too', () => {
    expect(isValidRange(null)).toBe(false);
    expect(() => satisfies('1.2', '^1.0.0')).toThrow(expect.objectContaining({ code: 5602 }));
  });

  it('agrees with a direct definition of caret ranges for releases (property)', () => {
    const part = fc.nat({ max: 4 });
    fc.assert(
      fc.property(part, part, part, part, part, part, (a, b, c, x, y, z) => {
        const expected =
          compareVersions(parseVersion(`${x}.${y}.${z}`), parseVersion(`${a}.${b}.${c}`)) >= 0 &&
          (a > 0 ? x === a : b > 0 ? x === 0 && y === b : x === 0 && y === 0 && z === c);
        expect(satisfies(`${x}.${y}.${z}`, `^${a}.${b}.${c}`)).toBe(expected);
      }),
      { seed: 5603, numRuns: 1000 },
    );
  });
});
