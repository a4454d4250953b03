// Version ranges: the subset of node-semver's range grammar that service discovery needs, with
// the same meaning (docs.npmjs.com "semver": ranges, advanced range syntax, pre-release tags).
//
//   range-set   ::= range ( '||' range )*
//   range       ::= hyphen | simple ( ' ' simple )* | ''
//   hyphen      ::= partial ' - ' partial
//   simple      ::= ( '<' | '>' | '<=' | '>=' | '=' | '~' | '^' )? partial
//   partial     ::= 'v'? xr ( '.' xr ( '.' xr pre? build? )? )?
//   xr          ::= 'x' | 'X' | '*' | number
//
// unlike node-semver, a wildcard is followed by wildcards only: `1.x.3` and `x.1.2` are refused
// (node-semver reads them as `1.x` and `*`, dropping the number).
//
// A version satisfies a range-set when it satisfies every comparator of at least one range. A
// version with a pre-release tag (1.3.0-beta.1) satisfies a range only if some comparator of
// that range names the same MAJOR.MINOR.PATCH with a pre-release tag: `>=1.3.0-beta.0` admits
// 1.3.0-beta.1 but not 1.4.0-beta.1, and `^1.0.0` admits no pre-release at all.
//
// Desugaring (X is a wildcard, "-0" the lowest pre-release, so `<2.0.0-0` excludes 2.0.0's):
//   1.2.3 / =1.2.3   =1.2.3                     ~1.2.3   >=1.2.3 <1.3.0-0
//   1.2 / 1.2.x      >=1.2.0 <1.3.0-0           ~1.2     >=1.2.0 <1.3.0-0
//   1 / 1.x          >=1.0.0 <2.0.0-0           ~1       >=1.0.0 <2.0.0-0
//   * / x / ''       >=0.0.0                    ^1.2.3   >=1.2.3 <2.0.0-0
//   >1.2             >=1.3.0                    ^0.2.3   >=0.2.3 <0.3.0-0
//   <=1.2            <1.3.0-0                   ^0.0.3   >=0.0.3 <0.0.4-0
//   <1.2             <1.2.0-0                   ^0.0     >=0.0.0 <0.1.0-0
//   >=1.2            >=1.2.0                    ^0.x     >=0.0.0 <1.0.0-0
//   1.2.3 - 2.3      >=1.2.3 <2.4.0-0           1.2 - 2.3.4  >=1.2.0 <=2.3.4
import { InvalidVersionRangeError } from '../errors/invalid-version-range-error';
import { InvalidVersionError } from '../errors/invalid-version-error';
import type { SemVer } from './version';
import { compareVersions, makeVersion, parsePrerelease } from './version';

export const MAX_RANGE_LENGTH = 256;
const MAX_ALTERNATIVES = 16;
const MAX_COMPARATORS = 32;

type Operator = '<' | '<=' | '>' | '>=' | '=';

interface Comparator {
  readonly operator: Operator;
  readonly version: SemVer;
}

/** A parsed range, ready to test versions against. */
export interface VersionRange {
  /** The text it was parsed from. */
  readonly raw: string;
  /** True when `version` satisfies the range (see the pre-release rule above). */
  test(version: SemVer): boolean;
}

const PARTIAL = /^v?(\*|x|X|0|[1-9][0-9]*)(?:\.(\*|x|X|0|[1-9][0-9]*)(?:\.(\*|x|X|0|[1-9][0-9]*)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?)?)?$/;
const SIMPLE = /^(<=|>=|<|>|=|~>?|\^)?(.*)$/;

interface Partial {
  /** undefined where the part was missing or a wildcard. */
  readonly major: number | undefined;
  readonly minor: number | undefined;
  readonly patch: number | undefined;
  readonly prerelease: readonly (string | number)[];
}

function fail(raw: string, reason: string): never {
  throw new InvalidVersionRangeError(raw, reason);
}

function number(text: string | undefined, raw: string): number | undefined {
  if (text === undefined || text === '*' || text === 'x' || text === 'X') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) fail(raw, `version part ${text} is larger than 2^53 - 1`);
  return value;
}

function parsePartial(text: string, raw: string): Partial {
  const match = PARTIAL.exec(text);
  if (match === null) fail(raw, `"${text}" is not a version or a partial version (1, 1.2, 1.2.x, *)`);
  // node-semver reads every part after a wildcard as one (`1.x.3` is `1.x`, `x.1.2` is `*`) and
  // drops the number unsaid; such a range does not say what it means, so it is refused.
  const wildcardAt = [match[1], match[2], match[3]].findIndex((part) => part === '*' || part === 'x' || part === 'X');
  if (wildcardAt !== -1 && [match[2], match[3]].slice(wildcardAt).some((part) => part !== undefined && part !== '*' && part !== 'x' && part !== 'X')) {
    fail(raw, `"${text}" has a wildcard followed by a number (write ${wildcardAt === 0 ? '*' : `${match[1]}.x`})`);
  }
  const major = number(match[1], raw);
  const minor = major === undefined ? undefined : number(match[2], raw);
  const patch = minor === undefined ? undefined : number(match[3], raw);
  let prerelease: (string | number)[] = [];
  if (match[4] !== undefined) {
    if (patch === undefined) fail(raw, `"${text}": a pre-release tag needs MAJOR.MINOR.PATCH`);
    try {
      prerelease = parsePrerelease(match[4], text);
    } catch (error) {
      fail(raw, error instanceof InvalidVersionError ? error.reason : 'invalid pre-release');
    }
  }
  return { major, minor, patch, prerelease };
}

const at = (operator: Operator, major: number, minor: number, patch: number, prerelease: readonly (string | number)[] = []): Comparator => ({
  operator,
  version: makeVersion(major, minor, patch, prerelease),
});
const LOWEST_PRERELEASE = [0];
/** Matches nothing: below the lowest version there is. */
const NOTHING: Comparator = at('<', 0, 0, 0, LOWEST_PRERELEASE);

/** The comparators one `simple` term desugars to; an empty list matches any release. */
function desugar(operator: string, partial: Partial): Comparator[] {
  const { major, minor, patch, prerelease } = partial;
  switch (operator) {
    case '':
    case '=':
      if (major === undefined) return [];
      if (minor === undefined) return [at('>=', major, 0, 0), at('<', major + 1, 0, 0, LOWEST_PRERELEASE)];
      if (patch === undefined) return [at('>=', major, minor, 0), at('<', major, minor + 1, 0, LOWEST_PRERELEASE)];
      return [at('=', major, minor, patch, prerelease)];
    case '>':
      if (major === undefined) return [NOTHING];
      if (minor === undefined) return [at('>=', major + 1, 0, 0)];
      if (patch === undefined) return [at('>=', major, minor + 1, 0)];
      return [at('>', major, minor, patch, prerelease)];
    case '>=':
      if (major === undefined) return [];
      return [at('>=', major, minor ?? 0, patch ?? 0, prerelease)];
    case '<':
      if (major === undefined) return [NOTHING];
      if (minor === undefined) return [at('<', major, 0, 0, LOWEST_PRERELEASE)];
      if (patch === undefined) return [at('<', major, minor, 0, LOWEST_PRERELEASE)];
      return [at('<', major, minor, patch, prerelease)];
    case '<=':
      if (major === undefined) return [];
      if (minor === undefined) return [at('<', major + 1, 0, 0, LOWEST_PRERELEASE)];
      if (patch === undefined) return [at('<', major, minor + 1, 0, LOWEST_PRERELEASE)];
      return [at('<=', major, minor, patch, prerelease)];
    case '~':
    case '~>':
      if (major === undefined) return [];
      if (minor === undefined) return [at('>=', major, 0, 0), at('<', major + 1, 0, 0, LOWEST_PRERELEASE)];
      return [at('>=', major, minor, patch ?? 0, prerelease), at('<', major, minor + 1, 0, LOWEST_PRERELEASE)];
    case '^': {
      if (major === undefined) return [];
      const lower = at('>=', major, minor ?? 0, patch ?? 0, prerelease);
      if (major > 0 || minor === undefined) return [lower, at('<', major + 1, 0, 0, LOWEST_PRERELEASE)];
      if (minor > 0 || patch === undefined) return [lower, at('<', 0, minor + 1, 0, LOWEST_PRERELEASE)];
      return [lower, at('<', 0, 0, patch + 1, LOWEST_PRERELEASE)];
    }
    default:
      throw new Error(`unreachable operator ${operator}`);
  }
}

function hyphen(low: Partial, high: Partial): Comparator[] {
  const result: Comparator[] = [];
  if (low.major !== undefined) result.push(at('>=', low.major, low.minor ?? 0, low.patch ?? 0, low.prerelease));
  if (high.major !== undefined) {
    if (high.minor === undefined) result.push(at('<', high.major + 1, 0, 0, LOWEST_PRERELEASE));
    else if (high.patch === undefined) result.push(at('<', high.major, high.minor + 1, 0, LOWEST_PRERELEASE));
    else result.push(at('<=', high.major, high.minor, high.patch, high.prerelease));
  }
  return result;
}

function parseAlternative(text: string, raw: string): Comparator[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const hyphenMatch = /^(\S+)\s+-\s+(\S+)$/.exec(trimmed);
  if (hyphenMatch !== null) return hyphen(parsePartial(hyphenMatch[1]!, raw), parsePartial(hyphenMatch[2]!, raw));
  // `>= 1.2.3` is the same as `>=1.2.3`: glue an operator to the version after it.
  const glued = trimmed.replace(/(<=|>=|<|>|=|~>?|\^)\s+/g, '$1');
  const comparators: Comparator[] = [];
  for (const term of glued.split(/\s+/)) {
    const match = SIMPLE.exec(term)!;
    const operator = match[1] ?? '';
    if (match[2] === '') fail(raw, `"${term}" has an operator but no version`);
    comparators.push(...desugar(operator, parsePartial(match[2]!, raw)));
    if (comparators.length > MAX_COMPARATORS) fail(raw, `more than ${MAX_COMPARATORS} comparators in one range`);
  }
  return comparators;
}

function holds(comparator: Comparator, version: SemVer): boolean {
  const order = compareVersions(version, comparator.version);
  switch (comparator.operator) {
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
    case '=':
      return order === 0;
  }
}

function satisfiesAlternative(comparators: readonly Comparator[], version: SemVer): boolean {
  for (const comparator of comparators) if (!holds(comparator, version)) return false;
  if (version.prerelease.length === 0) return true;
  // The pre-release rule: some comparator must name this MAJOR.MINOR.PATCH with a tag.
  for (const { version: bound } of comparators) {
    if (bound.prerelease.length > 0 && bound.major === version.major && bound.minor === version.minor && bound.patch === version.patch) {
      return true;
    }
  }
  return false;
}

/** Parses a range; throws InvalidVersionRangeError (code 5603) outside the grammar above. */
export function parseRange(input: unknown): VersionRange {
  if (typeof input !== 'string') fail(String(typeof input), 'a version range is a string');
  if (input.length > MAX_RANGE_LENGTH) fail(input, `longer than ${MAX_RANGE_LENGTH} characters`);
  if (/[^\x20-\x7e]/.test(input)) fail(input, 'only printable ASCII characters');
  const parts = input.split('||');
  if (parts.length > MAX_ALTERNATIVES) fail(input, `more than ${MAX_ALTERNATIVES} alternatives`);
  if (parts.length > 1 && parts.some((part) => part.trim() === '')) fail(input, 'an empty alternative around "||"');
  const alternatives = parts.map((part) => Object.freeze(parseAlternative(part, input)));
  return Object.freeze({
    raw: input,
    test: (version: SemVer) => alternatives.some((comparators) => satisfiesAlternative(comparators, version)),
  });
}

/** True when `input` parses as a range. */
export function isValidRange(input: unknown): boolean {
  try {
    parseRange(input);
    return true;
  } catch {
    return false;
  }
}
