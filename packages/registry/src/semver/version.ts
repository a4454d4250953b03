// Semantic versions (semver.org, 2.0.0): MAJOR.MINOR.PATCH, an optional pre-release after `-`
// and optional build metadata after `+`. Precedence (§11): numeric parts compare as numbers; a
// pre-release version has lower precedence than the release; pre-release identifiers compare
// one by one, numeric ones as numbers and below alphanumeric ones, which compare in ASCII order,
// and a longer list wins when all before are equal. Build metadata does not count.
import { InvalidVersionError } from '../errors/invalid-version-error';

/** The longest version string accepted (node-semver uses the same bound). */
export const MAX_VERSION_LENGTH = 256;

export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Pre-release identifiers: numbers for numeric ones, strings otherwise. */
  readonly prerelease: readonly (string | number)[];
  readonly build: readonly string[];
  /** The canonical text: without a leading `v`, with the build part. */
  readonly text: string;
}

const NUMERIC = /^(?:0|[1-9][0-9]*)$/;
const PRERELEASE_IDENTIFIER = /^(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)$/;
const BUILD_IDENTIFIER = /^[0-9A-Za-z-]+$/;

function numberPart(text: string, what: string, original: string): number {
  if (!NUMERIC.test(text)) throw new InvalidVersionError(original, `${what} must be a number without leading zeros`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new InvalidVersionError(original, `${what} is larger than 2^53 - 1`);
  return value;
}

/** Parses the identifiers after `-`; `original` is only for the error message. */
export function parsePrerelease(text: string, original: string): (string | number)[] {
  return text.split('.').map((identifier) => {
    if (!PRERELEASE_IDENTIFIER.test(identifier)) {
      throw new InvalidVersionError(original, `pre-release identifier "${identifier}" is empty, has a leading zero or a character outside [0-9A-Za-z-]`);
    }
    if (NUMERIC.test(identifier)) {
      const value = Number(identifier);
      if (!Number.isSafeInteger(value)) throw new InvalidVersionError(original, 'numeric pre-release identifier larger than 2^53 - 1');
      return value;
    }
    return identifier;
  });
}

/**
 * Parses a version: `1.2.3`, `1.2.3-rc.1`, `1.2.3+build.7`; a leading `v` is accepted and
 * dropped. Throws InvalidVersionError (code 5602) for anything else.
 */
export function parseVersion(input: unknown): SemVer {
  if (typeof input !== 'string') throw new InvalidVersionError(input, 'a version is a string');
  if (input.length === 0) throw new InvalidVersionError(input, 'empty');
  if (input.length > MAX_VERSION_LENGTH) throw new InvalidVersionError(input, `longer than ${MAX_VERSION_LENGTH} characters`);
  const body = input.startsWith('v') ? input.slice(1) : input;
  const plus = body.indexOf('+');
  const withoutBuild = plus === -1 ? body : body.slice(0, plus);
  const buildText = plus === -1 ? undefined : body.slice(plus + 1);
  const dash = withoutBuild.indexOf('-');
  const core = dash === -1 ? withoutBuild : withoutBuild.slice(0, dash);
  const prereleaseText = dash === -1 ? undefined : withoutBuild.slice(dash + 1);
  const parts = core.split('.');
  if (parts.length !== 3) throw new InvalidVersionError(input, 'expected MAJOR.MINOR.PATCH');
  const major = numberPart(parts[0]!, 'major', input);
  const minor = numberPart(parts[1]!, 'minor', input);
  const patch = numberPart(parts[2]!, 'patch', input);
  const prerelease = prereleaseText === undefined ? [] : parsePrerelease(prereleaseText, input);
  let build: string[] = [];
  if (buildText !== undefined) {
    build = buildText.split('.');
    if (build.some((identifier) => !BUILD_IDENTIFIER.test(identifier))) {
      throw new InvalidVersionError(input, 'build identifiers are non-empty and use only [0-9A-Za-z-]');
    }
  }
  return Object.freeze({
    major,
    minor,
    patch,
    prerelease: Object.freeze(prerelease),
    build: Object.freeze(build),
    text: body,
  });
}

/** True when `input` parses as a version. */
export function isValidVersion(input: unknown): boolean {
  try {
    parseVersion(input);
    return true;
  } catch {
    return false;
  }
}

function compareIdentifiers(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a === b ? 0 : a < b ? -1 : 1;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

/** Semver precedence: negative when a < b, 0 when equal (build ignored), positive when a > b. */
export function compareVersions(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  const left = a.prerelease;
  const right = b.prerelease;
  if (left.length === 0 && right.length === 0) return 0;
  if (left.length === 0) return 1; // a release ranks above its pre-releases
  if (right.length === 0) return -1;
  const shared = Math.min(left.length, right.length);
  for (let index = 0; index < shared; index += 1) {
    const order = compareIdentifiers(left[index]!, right[index]!);
    if (order !== 0) return order;
  }
  return left.length === right.length ? 0 : left.length < right.length ? -1 : 1;
}

/** A version built from parts (used for the bounds ranges desugar to). */
export function makeVersion(major: number, minor: number, patch: number, prerelease: readonly (string | number)[] = []): SemVer {
  const text = `${major}.${minor}.${patch}${prerelease.length === 0 ? '' : `-${prerelease.join('.')}`}`;
  return Object.freeze({ major, minor, patch, prerelease: Object.freeze([...prerelease]), build: Object.freeze([]), text });
}
