// Registered names: what is accepted locally and from the wire.
import { InvalidNameError } from '../errors/invalid-name-error';
import { InvalidPidError } from '../errors/invalid-pid-error';
import { isValidNodeId } from './pid';

export const MAX_NAME_LENGTH = 255;
// Printable characters only: names end up in logs, pid listings and wire frames.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Throws InvalidNameError unless `name` is a 1–255 character string without control characters. */
export function checkName(name: unknown): string {
  if (typeof name !== 'string') throw new InvalidNameError(`expected a string, got ${name === null ? 'null' : typeof name}`);
  if (name.length === 0) throw new InvalidNameError('the name is empty');
  if (name.length > MAX_NAME_LENGTH) throw new InvalidNameError(`longer than ${MAX_NAME_LENGTH} characters`);
  if (CONTROL_CHARACTERS.test(name)) throw new InvalidNameError('contains control characters');
  return name;
}

/** A `{ name, node }` destination, validated: throws InvalidPidError or InvalidNameError. */
export function checkRemoteName(to: unknown): { name: string; node: string } {
  if (typeof to !== 'object' || to === null) throw new InvalidPidError(`not a destination: ${to === null ? 'null' : typeof to}`);
  const { name, node } = to as { name?: unknown; node?: unknown };
  if (!isValidNodeId(node)) throw new InvalidPidError('a remote name needs a valid node id');
  return { name: checkName(name), node };
}
