// The distribution protocol: the signals one runtime sends another through a RemoteRouter.
// Signals are plain data (strings, numbers, booleans, plain objects) so any transport can carry
// them; pids travel in their text form, errors as FoundationError wire data, message bodies with
// their pids tagged (wire-body.ts). `decodeSignal` treats its input as hostile: every field is
// checked for type and size, a signal that claims a sender (or a monitor reference) of another
// node than the one it came from is refused, and the result never shares prototypes with the input.
import { FoundationError } from '@foundation/core';
import type { SerializedFoundationError } from '@foundation/core';
import { MalformedSignalError } from '../errors/malformed-signal-error';
import { MAX_NAME_LENGTH, checkName } from './names';
import { MAX_PID_TEXT_LENGTH, Pid } from './pid';
import { inThisRealm, isPlainRecord } from './plain-record';
import { isRefOf, isValidRef } from './ref';
import { decodeBody, encodeBody } from './wire-body';

export const SIGNAL_VERSION = 1;
export const MAX_REASON_LENGTH = 1024;
/**
 * The registered name a runtime calls on another node to learn what it speaks (there is no
 * handshake between runtimes). A runtime of this version answers the call itself with
 * `{ capabilities }`; one of an earlier version finds no process of that name and answers
 * `noproc`, which is how it is recognised. The runtime answers it before any name lookup, so a
 * process registered under it never receives it from another node. The probe states the
 * prober's own capabilities (`capabilityStatement`), and only that statement tells the receiver
 * what the caller speaks: a call to the name is not a probe, since a process on a runtime of the
 * earlier version may call it too.
 */
export const CAPABILITY_PROBE_NAME = '$foundation.process.capabilities';
/** The capability of the link protocol with unlink ids and their acks (OTP 23.3's UNLINK_ID). */
export const UNLINK_ID_CAPABILITY = 'unlink-id';
/** What a runtime of this version speaks: the body of its probe, and its answer to one (a new object each time). */
export function capabilityStatement(): { capabilities: string[] } {
  return { capabilities: [UNLINK_ID_CAPABILITY] };
}

/** True for a capability statement (a probe's body, or its answer) that lists the link protocol with unlink ids. */
export function statesUnlinkId(body: unknown): boolean {
  return isPlainRecord(body) && Array.isArray(body['capabilities']) && body['capabilities'].includes(UNLINK_ID_CAPABILITY);
}

/** A destination on another node: a pid, or a name registered there. */
export type RemoteTarget = Pid | { readonly name: string; readonly node: string };

export type Signal =
  | { readonly type: 'send'; readonly to: RemoteTarget; readonly from: Pid | undefined; readonly body: unknown; readonly cast: boolean }
  | { readonly type: 'call'; readonly to: RemoteTarget; readonly ref: number; readonly body: unknown }
  | { readonly type: 'reply'; readonly ref: number; readonly ok: true; readonly body: unknown }
  | { readonly type: 'reply'; readonly ref: number; readonly ok: false; readonly error: FoundationError }
  | { readonly type: 'link'; readonly from: Pid; readonly to: Pid }
  // `id` is absent from a runtime of an earlier version, and then no ack is sent back.
  | { readonly type: 'unlink'; readonly from: Pid; readonly to: Pid; readonly id?: number }
  | { readonly type: 'unlink-ack'; readonly from: Pid; readonly to: Pid; readonly id: number }
  | { readonly type: 'exit'; readonly from: Pid; readonly to: Pid; readonly reason: unknown; readonly link: boolean }
  | { readonly type: 'monitor' | 'demonitor'; readonly from: Pid; readonly to: Pid; readonly ref: string }
  | { readonly type: 'down'; readonly to: Pid; readonly ref: string; readonly pid: Pid; readonly reason: unknown };

/** The wire form of a signal: plain data, version-tagged. */
export type WireSignal = Readonly<Record<string, unknown>> & { readonly v: number; readonly t: string };

/** An exit reason as wire data: well-known and other short strings as they are, errors as FoundationError data. */
export function encodeReason(reason: unknown): string | { readonly error: SerializedFoundationError } {
  if (typeof reason === 'string') return reason.length > MAX_REASON_LENGTH ? reason.slice(0, MAX_REASON_LENGTH) : reason;
  return { error: FoundationError.from(reason).toJSON() };
}

function encodeTarget(target: RemoteTarget): string | { name: string } {
  return Pid.is(target) ? target.toString() : { name: target.name };
}

export function encodeSignal(signal: Signal): WireSignal {
  switch (signal.type) {
    case 'send':
      return {
        v: SIGNAL_VERSION,
        t: signal.cast ? 'cast' : 'send',
        to: encodeTarget(signal.to),
        ...(signal.from === undefined ? {} : { from: signal.from.toString() }),
        body: encodeBody(signal.body),
      };
    case 'call':
      return { v: SIGNAL_VERSION, t: 'call', to: encodeTarget(signal.to), ref: signal.ref, body: encodeBody(signal.body) };
    case 'reply':
      return signal.ok
        ? { v: SIGNAL_VERSION, t: 'reply', ref: signal.ref, ok: true, body: encodeBody(signal.body) }
        : { v: SIGNAL_VERSION, t: 'reply', ref: signal.ref, ok: false, error: signal.error.toJSON() };
    case 'link':
      return { v: SIGNAL_VERSION, t: 'link', from: signal.from.toString(), to: signal.to.toString() };
    case 'unlink':
      return {
        v: SIGNAL_VERSION,
        t: 'unlink',
        from: signal.from.toString(),
        to: signal.to.toString(),
        ...(signal.id === undefined ? {} : { id: signal.id }),
      };
    case 'unlink-ack':
      return { v: SIGNAL_VERSION, t: 'unlink-ack', from: signal.from.toString(), to: signal.to.toString(), id: signal.id };
    case 'exit':
      return {
        v: SIGNAL_VERSION,
        t: 'exit',
        from: signal.from.toString(),
        to: signal.to.toString(),
        reason: encodeReason(signal.reason),
        link: signal.link,
      };
    case 'monitor':
    case 'demonitor':
      return { v: SIGNAL_VERSION, t: signal.type, from: signal.from.toString(), to: signal.to.toString(), ref: signal.ref };
    case 'down':
      return {
        v: SIGNAL_VERSION,
        t: 'down',
        to: signal.to.toString(),
        ref: signal.ref,
        pid: signal.pid.toString(),
        reason: encodeReason(signal.reason),
      };
  }
}

class Reader {
  constructor(
    private readonly fromNode: string,
    private readonly record: Record<string, unknown>,
  ) {}

  fail(reason: string, cause?: unknown): never {
    throw new MalformedSignalError(this.fromNode, reason, cause === undefined ? {} : { cause });
  }

  pid(key: string): Pid {
    const value = this.record[key];
    if (typeof value !== 'string' || value.length > MAX_PID_TEXT_LENGTH) this.fail(`field "${key}" must be a pid`);
    try {
      return Pid.parse(value);
    } catch (error) {
      return this.fail(`field "${key}" is not a valid pid`, error);
    }
  }

  /** A pid that must live on the node the signal came from (no spoofed senders). */
  senderPid(key: string): Pid {
    const pid = this.pid(key);
    if (pid.node !== this.fromNode) this.fail(`field "${key}" names a process on ${pid.node}, not on the sending node`);
    return pid;
  }

  target(localNode: string): RemoteTarget {
    const value = this.record.to;
    if (typeof value === 'string') return this.pid('to');
    if (isPlainRecord(value) && Object.keys(value).length === 1 && typeof value.name === 'string') {
      if (value.name.length > MAX_NAME_LENGTH) this.fail('field "to.name" is too long');
      try {
        return { name: checkName(value.name), node: localNode };
      } catch (error) {
        return this.fail('field "to.name" is not a valid name', error);
      }
    }
    return this.fail('field "to" must be a pid or { name }');
  }

  ref(): string {
    const value = this.record.ref;
    if (!isValidRef(value)) this.fail('field "ref" must be a monitor reference');
    return value;
  }

  /**
   * A monitor reference the sending node made (ref.ts): a node that could name another node's
   * references would take them over, and that node's watchers would never get their downs.
   */
  senderRef(): string {
    const value = this.ref();
    if (!isRefOf(value, this.fromNode)) this.fail('field "ref" is a reference of another node than the sending one');
    return value;
  }

  callRef(): number {
    return this.positiveInteger('ref');
  }

  positiveInteger(key: string): number {
    const value = this.record[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) this.fail(`field "${key}" must be a positive integer`);
    return value;
  }

  boolean(key: string): boolean {
    const value = this.record[key];
    if (typeof value !== 'boolean') this.fail(`field "${key}" must be a boolean`);
    return value;
  }

  reason(key: string): unknown {
    const value = this.record[key];
    if (typeof value === 'string') {
      if (value.length > MAX_REASON_LENGTH) this.fail(`field "${key}" is longer than ${MAX_REASON_LENGTH} characters`);
      return value;
    }
    if (isPlainRecord(value) && Object.keys(value).length === 1 && value.error !== undefined) return FoundationError.fromJSON(inThisRealm(value.error));
    return this.fail(`field "${key}" must be a reason string or { error }`);
  }

  body(): unknown {
    try {
      return decodeBody(this.record.body);
    } catch (error) {
      return this.fail('the body holds a malformed pid', error);
    }
  }
}

/**
 * Decodes a signal that arrived from `fromNode`. `localNode` is this runtime's node id (names
 * in `to` are names registered here). Throws MalformedSignalError for anything invalid.
 */
export function decodeSignal(data: unknown, fromNode: string, localNode: string): Signal {
  if (!isPlainRecord(data)) throw new MalformedSignalError(fromNode, 'expected an object');
  const read = new Reader(fromNode, data);
  if (data.v !== SIGNAL_VERSION) read.fail(`unsupported version ${typeof data.v === 'number' ? data.v : typeof data.v}`);
  switch (data.t) {
    case 'send':
    case 'cast': {
      const from = data.from === undefined ? undefined : read.senderPid('from');
      return { type: 'send', to: read.target(localNode), from, body: read.body(), cast: data.t === 'cast' };
    }
    case 'call':
      return { type: 'call', to: read.target(localNode), ref: read.callRef(), body: read.body() };
    case 'reply': {
      const ref = read.callRef();
      if (read.boolean('ok')) return { type: 'reply', ref, ok: true, body: read.body() };
      return { type: 'reply', ref, ok: false, error: FoundationError.fromJSON(inThisRealm(data.error)) };
    }
    case 'link':
      return { type: 'link', from: read.senderPid('from'), to: read.pid('to') };
    case 'unlink': {
      const from = read.senderPid('from');
      const to = read.pid('to');
      return data.id === undefined ? { type: 'unlink', from, to } : { type: 'unlink', from, to, id: read.positiveInteger('id') };
    }
    case 'unlink-ack':
      return { type: 'unlink-ack', from: read.senderPid('from'), to: read.pid('to'), id: read.positiveInteger('id') };
    case 'exit':
      return { type: 'exit', from: read.senderPid('from'), to: read.pid('to'), reason: read.reason('reason'), link: read.boolean('link') };
    case 'monitor':
    case 'demonitor':
      return { type: data.t, from: read.senderPid('from'), to: read.pid('to'), ref: read.senderRef() };
    case 'down':
      return { type: 'down', to: read.pid('to'), ref: read.ref(), pid: read.senderPid('pid'), reason: read.reason('reason') };
    default:
      return read.fail(`unknown signal type ${typeof data.t === 'string' ? JSON.stringify(data.t.slice(0, 40)) : typeof data.t}`);
  }
}

/** An exit reason from its wire form; anything unreadable becomes a deserialization error. */
export function decodeReason(value: unknown): unknown {
  if (typeof value === 'string') return value.length > MAX_REASON_LENGTH ? value.slice(0, MAX_REASON_LENGTH) : value;
  if (isPlainRecord(value) && value.error !== undefined) return FoundationError.fromJSON(inThisRealm(value.error));
  return FoundationError.fromJSON(undefined);
}
