import type { VersionRange } from './range';
import { parseRange } from './range';
import type { SemVer } from './version';
import { parseVersion } from './version';

/**
 * True when `version` satisfies `range`. Throws InvalidVersionError (5602) or
 * InvalidVersionRangeError (5603) for input outside the grammar.
 */
export function satisfies(version: string | SemVer, range: string | VersionRange): boolean {
  const parsedVersion = typeof version === 'string' ? parseVersion(version) : version;
  const parsedRange = typeof range === 'string' ? parseRange(range) : range;
  return parsedRange.test(parsedVersion);
}
