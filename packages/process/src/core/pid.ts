// Process identifiers. A pid names one process on one node for the node's whole life: node id,
// a local id (never reused by that runtime) and the runtime's `creation` (its incarnation), so
// a pid from before a node restart never reaches a process of the new incarnation.
import { InvalidPidError } from '../errors/invalid-pid-error';

const PID_MARKER: unique symbol = Symbol.for('@foundation/process/Pid') as never;

/** Node ids: 1–255 characters from a conservative set that survives URLs, logs and pid text. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_.:@+/-]{1,255}$/;
/** The text form of a pid: `<node.id.creation>`; the node may itself contain dots. */
const PID_TEXT_PATTERN = /^<([A-Za-z0-9_.:@+/-]{1,255})\.([1-9][0-9]{0,15})\.([0-9]{1,10})>$/;
export const MAX_CREATION = 0xffff_ffff;
/** The longest valid text form, to reject oversized input before matching. */
export const MAX_PID_TEXT_LENGTH = 1 + 255 + 1 + 16 + 1 + 10 + 1;

/** Whether `value` is a node id a runtime accepts: 1–255 characters of [A-Za-z0-9_.:@+/-]. */
export function isValidNodeId(value: unknown): value is string {
  return typeof value === 'string' && NODE_ID_PATTERN.test(value);
}

/**
 * A process identifier: comparable (`equals`, `comparePids`), serialisable (`toString`,
 * `toJSON`, `Pid.parse`) and validated wherever it is decoded.
 */
export class Pid {
  declare readonly [PID_MARKER]: true;

  /**
   * Builds a pid from its parts, validating each; throws InvalidPidError. Processes get their
   * pids from the runtime; this constructor is for decoding.
   */
  constructor(
    readonly node: string,
    readonly id: number,
    readonly creation: number = 0,
  ) {
    if (!isValidNodeId(node)) throw new InvalidPidError(`node id must match ${NODE_ID_PATTERN.source}`);
    if (!Number.isSafeInteger(id) || id < 1) throw new InvalidPidError('local id must be a positive safe integer');
    if (!Number.isInteger(creation) || creation < 0 || creation > MAX_CREATION) {
      throw new InvalidPidError(`creation must be an integer in 0..${MAX_CREATION}`);
    }
  }

  /** True for a Pid, including one made by another copy of this package. */
  static is(value: unknown): value is Pid {
    return typeof value === 'object' && value !== null && (value as { [PID_MARKER]?: unknown })[PID_MARKER] === true;
  }

  /** Parses the text form `<node.id.creation>`; throws InvalidPidError for anything else. */
  static parse(text: unknown): Pid {
    if (typeof text !== 'string') throw new InvalidPidError(`expected a string, got ${typeof text}`);
    if (text.length > MAX_PID_TEXT_LENGTH) throw new InvalidPidError(`longer than ${MAX_PID_TEXT_LENGTH} characters`);
    const match = PID_TEXT_PATTERN.exec(text);
    if (match === null) throw new InvalidPidError('expected the form <node.id.creation>');
    return new Pid(match[1]!, Number(match[2]), Number(match[3]));
  }

  /**
   * A pid from any of its serialised forms: a Pid, its text, or a `{ node, id, creation }`
   * record (what structured clone or a JSON round trip leaves of one). Throws InvalidPidError.
   */
  static from(value: unknown): Pid {
    if (Pid.is(value)) return value;
    if (typeof value === 'string') return Pid.parse(value);
    if (typeof value === 'object' && value !== null) {
      const record = value as { node?: unknown; id?: unknown; creation?: unknown };
      if (typeof record.node !== 'string' || typeof record.id !== 'number') {
        throw new InvalidPidError('expected { node: string, id: number, creation?: number }');
      }
      const creation = record.creation ?? 0;
      if (typeof creation !== 'number') throw new InvalidPidError('creation must be a number');
      return new Pid(record.node, record.id, creation);
    }
    throw new InvalidPidError(`cannot read a pid from ${value === null ? 'null' : typeof value}`);
  }

  equals(other: unknown): boolean {
    return (
      this === other ||
      (Pid.is(other) && other.id === this.id && other.node === this.node && other.creation === this.creation)
    );
  }

  toString(): string {
    return `<${this.node}.${this.id}.${this.creation}>`;
  }

  /** JSON (and logs) carry the text form; `Pid.parse` reads it back. */
  toJSON(): string {
    return this.toString();
  }
}

Object.defineProperty(Pid.prototype, PID_MARKER, { value: true, enumerable: false });

/** A total order over pids: by node, then local id, then creation. */
export function comparePids(a: Pid, b: Pid): number {
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  if (a.id !== b.id) return a.id - b.id;
  return a.creation - b.creation;
}
