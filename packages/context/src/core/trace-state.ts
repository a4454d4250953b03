// An immutable `tracestate` (W3C Trace Context §3.3) implementing OpenTelemetry's TraceState
// interface. Built from an already validated header, it keeps the header text and splits it
// into members only when asked (`get`, `set`, `unset`), so a trace state that is only passed
// on costs nothing beyond validation.
import type { TraceState } from '@opentelemetry/api';
import { MAX_TRACESTATE_MEMBERS, isTraceStateKey, isTraceStateValue } from './trace-context';

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
   * the rightmost member beyond 32. An invalid key or value leaves the state unchanged.
   */
  set(key: string, value: string): TraceState {
    if (!isTraceStateKey(key) || !isTraceStateValue(value)) return this;
    const members: Member[] = [[key, value], ...this.#list().filter(([existing]) => existing !== key)];
    return new W3CTraceState(undefined, members.slice(0, MAX_TRACESTATE_MEMBERS));
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
