// An immutable `tracestate` (W3C Trace Context §3.3) implementing OpenTelemetry's TraceState
// interface. Built from an already validated header, it keeps the header text and splits it
// into members only when asked (`get`, `set`, `unset`), so a trace state that is only passed
// on costs nothing beyond validation.
import type { TraceState } from '@opentelemetry/api';
import { skipWhitespace, trimWhitespaceEnd } from './characters';
import { MAX_TRACESTATE_LENGTH, MAX_TRACESTATE_MEMBERS, isTraceStateKey, isTraceStateValue } from './trace-context';

type Member = readonly [key: string, value: string];

export class W3CTraceState implements TraceState {
  #serialized: string | undefined;
  #members: readonly Member[] | undefined;

  /** From a header validated by `parseTraceState`, or from members. */
  constructor(serialized: string | undefined, members?: readonly Member[]) {
    this.#serialized = serialized;
    this.#members = members;
  }

  /**
   * A new trace state with `key` first (§3.3.1.4: a modified key moves to the left), dropping
   * the rightmost member beyond 32, and members past the length a receiver accepts (see
   * `withinLength`). An invalid key or value leaves the state unchanged.
   */
  set(key: string, value: string): TraceState {
    if (!isTraceStateKey(key) || !isTraceStateValue(value)) return this;
    const members: Member[] = [[key, value], ...this.#list().filter(([existing]) => existing !== key)];
    return new W3CTraceState(undefined, withinLength(members.slice(0, MAX_TRACESTATE_MEMBERS)));
  }

  unset(key: string): TraceState {
    const members = this.#list();
    return members.some(([existing]) => existing === key) ? new W3CTraceState(undefined, members.filter(([existing]) => existing !== key)) : this;
  }

  get(key: string): string | undefined {
    return this.#list().find(([existing]) => existing === key)?.[1];
  }

  serialize(): string {
    this.#serialized ??= this.#list()
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    return this.#serialized;
  }

  #list(): readonly Member[] {
    if (this.#members === undefined) {
      const text = this.#serialized ?? '';
      this.#members =
        text === ''
          ? []
          : text.split(',').map((member): Member => {
              const equals = member.indexOf('=');
              return [member.slice(0, equals), member.slice(equals + 1)];
            });
    }
    return this.#members;
  }
}

/**
 * A trace state from the text of one made elsewhere, cut as `set` cuts its own. OpenTelemetry's
 * `createTraceState(...).set` checks nothing: a vendor adding its member to a full list there
 * makes 33, and long members can pass 8192 characters, where a receiver drops the whole header.
 * The spec has the rightmost members go (§3.3.1.4: "the right-most list-member should be
 * removed"; "tracestate limits"), so the first 32 are kept, then cut to length by `withinLength`.
 * Undefined when one of those 32 is outside the grammar or repeats a key: then the text is not a
 * tracestate, and none of it may be sent. Members past the 32nd are dropped unread.
 */
export function traceStateWithinLimits(text: string): W3CTraceState | undefined {
  const members: Member[] = [];
  const keys = new Set<string>();
  for (let start = 0; start <= text.length && members.length < MAX_TRACESTATE_MEMBERS; ) {
    let end = text.indexOf(',', start);
    if (end === -1) end = text.length;
    const memberStart = skipWhitespace(text, start, end);
    const memberEnd = trimWhitespaceEnd(text, memberStart, end);
    start = end + 1;
    if (memberStart === memberEnd) continue;
    const equals = text.indexOf('=', memberStart);
    if (equals === -1 || equals >= memberEnd || !isTraceStateKey(text, memberStart, equals) || !isTraceStateValue(text, equals + 1, memberEnd)) return undefined;
    const key = text.slice(memberStart, equals);
    if (keys.has(key)) return undefined;
    keys.add(key);
    members.push([key, text.slice(equals + 1, memberEnd)]);
  }
  return new W3CTraceState(undefined, withinLength(members));
}

/** Members longer than this go first when a trace state is too long (the spec's "tracestate limits"). */
const LONG_MEMBER = 128;

/**
 * `members`, shortened to serialise within MAX_TRACESTATE_LENGTH, the most a receiver (this
 * package's `extract` included) accepts: 32 members of 256-character keys and values would make
 * 16,447 characters, and the whole header would be dropped. Truncated as the spec's "tracestate
 * limits" say: members over 128 characters first, from the right, then members from the right.
 * The first member, at most 513 characters, always stays.
 */
function withinLength(members: Member[]): Member[] {
  const size = ([key, value]: Member): number => key.length + 1 + value.length;
  let length = members.reduce((total, member) => total + size(member) + 1, -1);
  if (length <= MAX_TRACESTATE_LENGTH) return members;
  const kept = [...members];
  for (let index = kept.length - 1; index > 0 && length > MAX_TRACESTATE_LENGTH; index -= 1) {
    if (size(kept[index]!) > LONG_MEMBER) length -= size(kept.splice(index, 1)[0]!) + 1;
  }
  while (length > MAX_TRACESTATE_LENGTH && kept.length > 1) length -= size(kept.pop()!) + 1;
  return kept;
}
