// Pids inside message bodies that cross a node or thread boundary. A Pid is a class instance,
// and neither CBOR nor structured clone keeps classes, so on the way out every Pid found in
// plain objects and arrays becomes `{ $pid: "<node.id.creation>" }`, and on the way in each such
// tag becomes a validated Pid again. Both walks copy only the containers on a path to a pid
// (the sender's objects are never mutated), never follow more than MAX_DEPTH levels or
// MAX_CONTAINERS objects, and never create keys that reach a prototype.
import { Pid } from './pid';
import { isPlainRecord } from './plain-record';

export const PID_TAG = '$pid';
const MAX_DEPTH = 64;
const MAX_CONTAINERS = 100_000;

interface WalkBudget {
  containers: number;
}

function isWalkable(value: unknown): value is Record<string, unknown> | unknown[] {
  return Array.isArray(value) || isPlainRecord(value);
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** Copies an object or array, lazily: only once a child differs. */
function mapContainer(
  container: Record<string, unknown> | unknown[],
  transform: (child: unknown) => unknown,
): Record<string, unknown> | unknown[] {
  if (Array.isArray(container)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < container.length; index += 1) {
      const child: unknown = container[index];
      const next = transform(child);
      if (next !== child && copy === undefined) copy = container.slice(0, index);
      if (copy !== undefined) copy.push(next);
    }
    return copy ?? container;
  }
  let copy: Record<string, unknown> | undefined;
  const keys = Object.keys(container);
  for (let index = 0; index < keys.length; index += 1) {
    const key = keys[index]!;
    const child = container[key];
    const next = transform(child);
    if (next !== child && copy === undefined) {
      copy = {};
      for (let earlier = 0; earlier < index; earlier += 1) setOwn(copy, keys[earlier]!, container[keys[earlier]!]);
    }
    if (copy !== undefined) setOwn(copy, key, next);
  }
  return copy ?? container;
}

function isPidTag(value: Record<string, unknown>): boolean {
  return Object.prototype.hasOwnProperty.call(value, PID_TAG) && Object.keys(value).length === 1;
}

function encodeValue(value: unknown, depth: number, budget: WalkBudget, checked: boolean): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Pid.is(value)) return { [PID_TAG]: value.toString() };
  if (depth >= MAX_DEPTH || !isWalkable(value)) return value;
  if (checked && !Array.isArray(value) && isPidTag(value)) {
    // A value of the sender's own that decodeBody would take for a tag: one that names no pid
    // would make it throw; one that does becomes that Pid, as decodeBody counts it (no budget).
    Pid.parse(value[PID_TAG]);
    return value;
  }
  budget.containers -= 1;
  if (budget.containers < 0) return value;
  return mapContainer(value, (child) => encodeValue(child, depth + 1, budget, checked));
}

/** The body with every reachable Pid replaced by its tag; the input itself when it holds none. */
export function encodeBody(body: unknown): unknown {
  return encodeValue(body, 0, { containers: MAX_CONTAINERS }, false);
}

/**
 * As encodeBody, for a receiver that decodes the body at once (a worker thread and the main
 * thread): throws InvalidPidError where the body holds an object of its own shaped like a pid
 * tag (`{ $pid }` alone) whose text is no pid, which decodeBody would throw for on the other
 * side, so that the sender learns it instead of the receiver failing.
 */
export function encodeCheckedBody(body: unknown): unknown {
  return encodeValue(body, 0, { containers: MAX_CONTAINERS }, true);
}

function decodeValue(value: unknown, depth: number, budget: WalkBudget): unknown {
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH || !isWalkable(value)) return value;
  if (!Array.isArray(value) && isPidTag(value)) return Pid.parse(value[PID_TAG]);
  budget.containers -= 1;
  if (budget.containers < 0) return value;
  return mapContainer(value, (child) => decodeValue(child, depth + 1, budget));
}

/**
 * The body with every pid tag turned back into a Pid. Throws InvalidPidError for a tag whose
 * text is not a valid pid; nothing else in the body is interpreted.
 */
export function decodeBody(body: unknown): unknown {
  return decodeValue(body, 0, { containers: MAX_CONTAINERS });
}
