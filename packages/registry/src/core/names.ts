// Naming rules, shared by local calls and by the decoder of peer messages. Names travel in
// logs, metrics labels and URLs, so they are kept to a conservative character set.
import { InvalidNameError } from '../errors/invalid-name-error';
import type { NameKind } from '../errors/invalid-name-error';

/** Service names, capabilities, service types, zones and namespaces: a letter, digit or `_`, then also `. : @ / + -`. */
export const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:@/+-]*$/;

/** Node ids, as @foundation/process defines them: 1–255 characters of `[A-Za-z0-9_.:@+/-]`. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_.:@+/-]{1,255}$/;

/** Why `value` is not a valid name of at most `maxLength` characters, or undefined when it is. */
export function nameProblem(value: unknown, maxLength: number): string | undefined {
  if (typeof value !== 'string') return `expected a string, got ${value === null ? 'null' : typeof value}`;
  if (value.length === 0) return 'empty';
  if (value.length > maxLength) return `longer than ${maxLength} characters`;
  if (!NAME_PATTERN.test(value)) return 'starts with a letter, digit or _ and uses only letters, digits and _ . : @ / + -';
  return undefined;
}

export function nodeIdProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `expected a string, got ${value === null ? 'null' : typeof value}`;
  if (!NODE_ID_PATTERN.test(value)) return 'expected 1–255 characters of [A-Za-z0-9_.:@+/-]';
  return undefined;
}

/** `value` as a name of this kind, or InvalidNameError saying what is wrong with it. */
export function checkName(kind: NameKind, value: unknown, maxLength: number): string {
  const problem = nameProblem(value, maxLength);
  if (problem !== undefined) throw new InvalidNameError(kind, value, problem);
  return value as string;
}
