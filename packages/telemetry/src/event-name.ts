// Event names in the :telemetry model: an array of strings, e.g. ['foundation', 'raft', 'commit'].
import { InvalidEventNameError } from './errors/invalid-event-name-error';
import { wellFormed } from './well-formed';

export type EventName = readonly string[];

/** Limits on names given to `attach` (they are kept); `execute` only walks what is attached. */
export const MAX_EVENT_NAME_SEGMENTS = 32;
export const MAX_EVENT_SEGMENT_LENGTH = 200;

function describe(value: unknown): string {
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 80 ? `${text.slice(0, 80)}…` : text;
  } catch {
    return typeof value;
  }
}

/** The error `execute` and friends throw for a name that is not a non-empty array of non-empty strings. */
export function invalidEventName(name: unknown): InvalidEventNameError {
  return new InvalidEventNameError(`an event name must be a non-empty array of non-empty strings (got ${describe(name)})`, { name: describe(name) });
}

/** Checks a name that will be kept (attach, metric definitions), with size limits; returns a frozen copy. */
export function checkEventName(name: unknown): EventName {
  if (!Array.isArray(name) || name.length === 0) throw invalidEventName(name);
  if (name.length > MAX_EVENT_NAME_SEGMENTS) {
    throw new InvalidEventNameError(`an event name has at most ${MAX_EVENT_NAME_SEGMENTS} segments (got ${name.length})`, { name: describe(name) });
  }
  for (const segment of name as unknown[]) {
    if (typeof segment !== 'string' || segment.length === 0) throw invalidEventName(name);
    // Kept names reach other nodes and logs as UTF-8, where two that differ only in a lone
    // surrogate would be one.
    if (wellFormed(segment) !== segment) {
      throw new InvalidEventNameError('an event name segment has a lone surrogate (half of a UTF-16 pair), which UTF-8 cannot carry', { name: describe(name) });
    }
    if (segment.length > MAX_EVENT_SEGMENT_LENGTH) {
      throw new InvalidEventNameError(`an event name segment has at most ${MAX_EVENT_SEGMENT_LENGTH} characters`, { name: describe(name) });
    }
  }
  return Object.freeze([...(name as string[])]);
}

/** True when `name` starts with every segment of `prefix`. */
export function hasPrefix(name: EventName, prefix: EventName): boolean {
  if (prefix.length > name.length) return false;
  for (let index = 0; index < prefix.length; index += 1) if (name[index] !== prefix[index]) return false;
  return true;
}
