import { describe, expect, it } from '@jest/globals';
import { FoundationError } from '@foundation/core';
import type { Clock } from '@foundation/core';
import { TraceFlags, createTraceState } from '@opentelemetry/api';
import { currentContext, withContext } from './active-context';
import { Context, EMPTY_CONTEXT, createContext, createContextKey, isContext } from './context';
import { CONTEXT_ERROR_CODES } from './errors/codes';
import { DeadlineExceededError } from './errors/deadline-exceeded-error';
import { InvalidContextValueError } from './errors/invalid-context-value-error';

function manualClock(start = 1000): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => now, monotonic: () => now, advance: (ms) => void (now += ms) };
}

function thrown(action: () => unknown): FoundationError {
  try {
    action();
  } catch (error) {
    if (FoundationError.is(error)) return error;
    throw error;
  }
  throw new Error('expected the action to throw');
}

describe('Context is immutable', () => {
  it('returns a new context from every setter and leaves the original unchanged', () => {
    const base = createContext({ correlationId: 'c-1', tenant: 'acme' });
    const changed = base.setValue('tenant', 'globex').setValue('correlationId', 'c-2');
    expect(base.getValue('tenant')).toBe('acme');
    expect(base.correlationId).toBe('c-1');
    expect(changed.getValue('tenant')).toBe('globex');
    expect(changed.getValue('correlationId')).toBe('c-2');
    expect(changed).not.toBe(base);
    expect(EMPTY_CONTEXT.keys()).toEqual([]);
  });

  it('merges values with `with`, removes keys set to undefined, and keeps symbol keys private', () => {
    const userKey = createContextKey<{ id: number }>('user');
    const otherKey = createContextKey<{ id: number }>('user');
    const context = createContext({ a: 1, b: 2 }).setValue(userKey, { id: 7 }).with({ b: undefined, c: 3 });
    expect(context.getValue('a')).toBe(1);
    expect(context.getValue('b')).toBeUndefined();
    expect(context.getValue('c')).toBe(3);
    expect(context.getValue(userKey)).toEqual({ id: 7 });
    expect(context.getValue(otherKey)).toBeUndefined();
    expect(context.keys()).toEqual(['a', userKey, 'c']);
    expect(context.deleteValue(userKey).getValue(userKey)).toBeUndefined();
  });

  it('keeps every value, the order of keys and removals through long chains of derived contexts', () => {
    const symbolKey = createContextKey<number>('n');
    let context = createContext();
    const contexts = [context];
    for (let step = 0; step < 40; step += 1) {
      context = step % 7 === 3 ? context.deleteValue(`k${step - 2}`) : context.setValue(`k${step % 11}`, step).setValue(symbolKey, step);
      contexts.push(context);
    }
    // The same steps on a Map: what every context must show.
    const expected = new Map<string | symbol, unknown>();
    for (let step = 0; step < 40; step += 1) {
      if (step % 7 === 3) expected.delete(`k${step - 2}`);
      else expected.set(`k${step % 11}`, step).set(symbolKey, step);
    }
    expect(context.keys()).toEqual([...expected.keys()]);
    for (const key of [...expected.keys(), 'k-missing']) expect(context.getValue(key)).toBe(expected.get(key));
    // Earlier contexts are unchanged by later derivations.
    expect(contexts[1]!.keys()).toEqual(['k0', symbolKey]);
    expect(contexts[1]!.getValue('k0')).toBe(0);
    expect(contexts[5]!.getValue('k1')).toBeUndefined(); // removed at step 3
    expect(contexts[5]!.getValue('k4')).toBe(4);
  });

  it('stores a key named __proto__ as a plain value without touching any prototype', () => {
    const context = createContext(JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>);
    expect(context.getValue('__proto__')).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('is recognised by a marker, not by instanceof', () => {
    expect(isContext(EMPTY_CONTEXT)).toBe(true);
    expect(isContext({ correlationId: 'x' })).toBe(false);
    expect(isContext(null)).toBe(false);
    expect(EMPTY_CONTEXT).toBeInstanceOf(Context);
  });
});

describe('well-known fields', () => {
  it('route through getValue and setValue', () => {
    const context = createContext({ correlationId: 'corr', requestId: 'req', originNode: 'node-a', hops: 3, deadline: 5000 });
    expect(context.getValue('correlationId')).toBe('corr');
    expect(context.getValue('requestId')).toBe('req');
    expect(context.getValue('originNode')).toBe('node-a');
    expect(context.getValue('hops')).toBe(3);
    expect(context.getValue('deadline')).toBe(5000);
    expect(context.keys()).toEqual([]);
    expect(context.setValue('hops', undefined).hops).toBe(0);
  });

  it.each([
    ['correlationId', 'empty', ''],
    ['correlationId', 'with a space', 'has space'],
    ['correlationId', '257 characters', 'x'.repeat(257)],
    ['requestId', 'a number', 42],
    ['originNode', 'non-ASCII', 'naïve'],
    ['hops', 'negative', -1],
    ['hops', 'fractional', 1.5],
    ['hops', 'a string', '3'],
    ['deadline', 'NaN', Number.NaN],
    ['deadline', 'a string', '100'],
  ])('rejects %s %s with InvalidContextValueError (5201)', (key, _label, value) => {
    const error = thrown(() => EMPTY_CONTEXT.setValue(key, value));
    expect(error).toBeInstanceOf(InvalidContextValueError);
    expect(error.code).toBe(CONTEXT_ERROR_CODES.invalidValue);
    expect((error as InvalidContextValueError).key).toBe(key);
  });

  it('reports a value that cannot be shown as text with InvalidContextValueError too, not the TypeError of describing it', () => {
    // A null-prototype object (as some decoders make), one whose toString throws, a BigInt in JSON.
    const unprintable = [Object.create(null) as unknown, { toString: () => { throw new Error('no text'); } }, { toJSON: () => 1n }];
    for (const value of unprintable) {
      expect(thrown(() => createContext({ correlationId: value as string })).code).toBe(CONTEXT_ERROR_CODES.invalidValue);
      expect(thrown(() => EMPTY_CONTEXT.setValue('hops', value)).code).toBe(CONTEXT_ERROR_CODES.invalidValue);
      expect(thrown(() => EMPTY_CONTEXT.setBaggage('k', value as string)).code).toBe(CONTEXT_ERROR_CODES.invalidValue);
      expect(thrown(() => EMPTY_CONTEXT.setBaggage(value as string, 'v')).code).toBe(CONTEXT_ERROR_CODES.invalidValue);
      expect(thrown(() => EMPTY_CONTEXT.withTrace({ traceId: value, spanId: 'x', traceFlags: 0 } as never)).code).toBe(CONTEXT_ERROR_CODES.invalidValue);
    }
  });

  it('serialises the loggable fields only', () => {
    const context = createContext({ correlationId: 'c', hops: 2, secret: 'local only' }).setBaggage('tenant', 'acme');
    expect(context.toJSON()).toEqual({ correlationId: 'c', hops: 2, baggage: { tenant: 'acme' } });
  });
});

describe('deadlines', () => {
  it('can only be shortened by a callee', () => {
    const clock = manualClock();
    const caller = EMPTY_CONTEXT.withTimeout(100, clock);
    expect(caller.deadline).toBe(1100);
    expect(caller.withTimeout(500, clock).deadline).toBe(1100);
    expect(caller.withTimeout(50, clock).deadline).toBe(1050);
    expect(caller.withDeadline(2000)).toBe(caller);
  });

  it('can only be shortened through `with`, `setValue` and `withContext` too (review finding)', () => {
    // A child scope given a later deadline, or none, keeps its parent's earlier one, as Go's
    // context.WithDeadline does: `with({ deadline })` used to put the later deadline in place.
    const caller = createContext({ deadline: 1100 });
    expect(caller.with({ deadline: 5000 }).deadline).toBe(1100);
    expect(caller.with({ deadline: undefined }).deadline).toBe(1100);
    expect(caller.setValue('deadline', 5000).deadline).toBe(1100);
    expect(caller.deleteValue('deadline').deadline).toBe(1100);
    expect(caller.with({ deadline: 1050 }).deadline).toBe(1050);
    expect(createContext({ deadline: 5000 }).deadline).toBe(5000);
    withContext(caller, () => {
      withContext({ deadline: 5000 }, () => {
        expect(currentContext().deadline).toBe(1100);
      });
    });
  });

  it('reports remaining time, expiry, and throws DeadlineExceededError (5202) once passed', () => {
    const clock = manualClock();
    const context = createContext({ correlationId: 'c-9' }).withTimeout(100, clock);
    expect(context.remainingTime(clock)).toBe(100);
    expect(context.isExpired(clock)).toBe(false);
    context.throwIfExpired(clock);
    clock.advance(130);
    expect(context.remainingTime(clock)).toBe(-30);
    expect(context.isExpired(clock)).toBe(true);
    const error = thrown(() => context.throwIfExpired(clock));
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(error.code).toBe(CONTEXT_ERROR_CODES.deadlineExceeded);
    expect(error.correlationId).toBe('c-9');
    expect((error as DeadlineExceededError).overdueMs).toBe(30);
    expect(error.retryStrategy).toBe('no_retry');
  });

  it('means no deadline when none is set', () => {
    expect(EMPTY_CONTEXT.remainingTime()).toBe(Number.POSITIVE_INFINITY);
    expect(EMPTY_CONTEXT.isExpired()).toBe(false);
    expect(() => EMPTY_CONTEXT.withTimeout(-1)).toThrow(InvalidContextValueError);
  });
});

describe('trace position and baggage', () => {
  it('accepts a valid span context and rejects invalid ids', () => {
    const trace = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, traceState: createTraceState('a=1') };
    expect(EMPTY_CONTEXT.withTrace(trace).trace).toBe(trace);
    expect(EMPTY_CONTEXT.withTrace(trace).withTrace(undefined).trace).toBeUndefined();
    expect(() => EMPTY_CONTEXT.withTrace({ ...trace, traceId: '0'.repeat(32) })).toThrow(InvalidContextValueError);
    expect(() => EMPTY_CONTEXT.withTrace({ ...trace, spanId: 'XYZ' })).toThrow(InvalidContextValueError);
  });

  it('sets, reads and deletes baggage, keeping insertion order and normalising metadata', () => {
    const context = EMPTY_CONTEXT.setBaggage('user.id', '42').setBaggage('tenant', 'acme', ' ttl = 60 ;internal').setBaggage('user.id', '43');
    expect([...context.baggage.keys()]).toEqual(['tenant', 'user.id']);
    expect(context.getBaggage('tenant')).toEqual({ value: 'acme', metadata: 'ttl=60;internal' });
    expect(context.getBaggage('user.id')).toEqual({ value: '43' });
    expect(context.deleteBaggage('tenant').getBaggage('tenant')).toBeUndefined();
    expect(context.deleteBaggage('absent')).toBe(context);
  });

  it.each([
    ['bad key', () => EMPTY_CONTEXT.setBaggage('has space', 'v')],
    ['empty key', () => EMPTY_CONTEXT.setBaggage('', 'v')],
    ['lone surrogate', () => EMPTY_CONTEXT.setBaggage('k', '\ud800')],
    ['oversized value', () => EMPTY_CONTEXT.setBaggage('k', 'v'.repeat(8193))],
    ['bad metadata', () => EMPTY_CONTEXT.setBaggage('k', 'v', 'a=b,c')],
  ])('rejects %s', (_label, action) => {
    expect(thrown(action).code).toBe(CONTEXT_ERROR_CODES.invalidValue);
  });
});

describe('arguments from JavaScript', () => {
  // Called from JavaScript, a method given null or a number where it reads an object threw a
  // bare TypeError ("Cannot read properties of null"), without the package's code or the name
  // of the argument (review finding).
  const clock = manualClock();
  const later = EMPTY_CONTEXT.withDeadline(2000);
  it.each([
    ['withTrace(null)', 'trace', () => EMPTY_CONTEXT.withTrace(null as never)],
    ['with(null)', 'values', () => EMPTY_CONTEXT.with(null as never)],
    ['with("ab")', 'values', () => EMPTY_CONTEXT.with('ab' as never)],
    ['with(5)', 'values', () => EMPTY_CONTEXT.with(5 as never)],
    ['with([])', 'values', () => EMPTY_CONTEXT.with([] as never)],
    ['createContext(null)', 'values', () => createContext(null as never)],
    ['withContext(null, fn)', 'values', () => withContext(null as never, () => 1)],
    ['withTimeout(5, null)', 'clock', () => EMPTY_CONTEXT.withTimeout(5, null as never)],
    ['withTimeout(5, {})', 'clock', () => EMPTY_CONTEXT.withTimeout(5, {} as never)],
    ['remainingTime(null)', 'clock', () => later.remainingTime(null as never)],
    ['isExpired(null)', 'clock', () => later.isExpired(null as never)],
    ['throwIfExpired(null)', 'clock', () => later.throwIfExpired(null as never)],
    ['setBaggage metadata 5', 'baggage.tenant', () => EMPTY_CONTEXT.setBaggage('tenant', 'acme', 5 as never)],
  ])('%s throws InvalidContextValueError (5201) naming %s', (_call, key, action) => {
    const error = thrown(action);
    expect(error).toBeInstanceOf(InvalidContextValueError);
    expect(error.code).toBe(CONTEXT_ERROR_CODES.invalidValue);
    expect((error as InvalidContextValueError).key).toBe(key);
  });

  it('still takes what it took before', () => {
    expect(EMPTY_CONTEXT.withTrace(undefined).trace).toBeUndefined();
    expect(EMPTY_CONTEXT.with({ tenant: 'acme' }).getValue('tenant')).toBe('acme');
    expect(later.withTimeout(5, clock).deadline).toBe(1005);
    expect(later.remainingTime(clock)).toBe(1000);
    expect(later.isExpired(clock)).toBe(false);
    expect(EMPTY_CONTEXT.setBaggage('tenant', 'acme', undefined).getBaggage('tenant')?.value).toBe('acme');
  });
});
