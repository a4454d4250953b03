import { describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { ERROR_CODES, errorTypeForCode, lookupErrorType } from './codes';
import { FoundationError, SERIALIZED_ERROR_TAG, isRetryable, retryDelay } from './foundation-error';
import { toPlainData } from './plain-data';

class NotLeaderError extends FoundationError {
  readonly leaderHint: string | undefined;
  constructor(leaderHint?: string) {
    super({ type: 'not_leader', code: 6001, message: 'this node is not the leader', category: 'system', context: { leaderHint } });
    this.leaderHint = leaderHint;
  }
}

describe('the 1.x code table', () => {
  it.each([
    ['invalid_config_structure', 1101, 'config'],
    ['missing_required_field', 1102, 'config'],
    ['invalid_config_value', 1201, 'config'],
    ['constraint_violation', 1202, 'config'],
    ['range_error', 1203, 'config'],
    ['config_not_found', 1301, 'config'],
    ['config_path_not_found', 1301, 'config'],
    ['config_update_forbidden', 1401, 'config'],
    ['initialization_failed', 2101, 'system'],
    ['service_unavailable', 2102, 'system'],
    ['resource_exhausted', 2201, 'system'],
    ['dependency_failed', 2301, 'system'],
    ['internal_error', 2401, 'system'],
    ['serialization_failed', 3101, 'data'],
    ['deserialization_failed', 3102, 'data'],
    ['type_mismatch', 3201, 'data'],
    ['format_error', 3202, 'data'],
    ['validation_failed', 3203, 'data'],
    ['invalid_input', 3204, 'data'],
    ['data_corruption', 3301, 'data'],
    ['data_not_found', 3401, 'data'],
    ['network_error', 4101, 'external'],
    ['external_service_error', 4201, 'external'],
    ['timeout', 4301, 'external'],
    ['authentication_failed', 4401, 'external'],
    ['unknown', 9999, 'unknown'],
  ] as const)('%s is code %d in category %s', (type, code, category) => {
    const error = new FoundationError({ type, message: 'm' });
    expect(error.code).toBe(code);
    expect(error.category).toBe(category);
    expect(lookupErrorType(type)?.code).toBe(code);
  });

  it('maps a code back to its canonical name, and unknown names to 9999', () => {
    expect(errorTypeForCode(1301)).toBe('config_not_found');
    expect(errorTypeForCode(4301)).toBe('timeout');
    expect(errorTypeForCode(1234)).toBeUndefined();
    expect(new FoundationError({ type: 'something_new', message: 'm' }).code).toBe(9999);
    expect(lookupErrorType('toString')).toBeUndefined();
    expect(lookupErrorType('__proto__')).toBeUndefined();
  });

  it('lists every code once per name', () => {
    expect(Object.keys(ERROR_CODES)).toHaveLength(26);
  });
});

describe('FoundationError', () => {
  it('carries the fields of 1.x errors', () => {
    const cause = new Error('socket closed');
    const error = new FoundationError({
      type: 'network_error',
      message: 'peer unreachable',
      context: { peer: 'node-2' },
      cause,
      correlationId: 'c-1',
      recoveryActions: ['check the peer'],
      timestamp: 1234,
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('FoundationError');
    expect(error.message).toBe('peer unreachable');
    expect(error.severity).toBe('medium');
    expect(error.subcategory).toBe('network');
    expect(error.retryStrategy).toBe('exponential_backoff');
    expect(error.context).toEqual({ peer: 'node-2' });
    expect(Object.isFrozen(error.context)).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error.correlationId).toBe('c-1');
    expect(error.recoveryActions).toEqual(['check the peer']);
    expect(error.timestamp).toBe(1234);
  });

  it('infers the retry strategy as 1.x did', () => {
    expect(new FoundationError({ type: 'timeout', message: 'm' }).retryStrategy).toBe('exponential_backoff');
    expect(new FoundationError({ type: 'network_error', message: 'm' }).retryStrategy).toBe('exponential_backoff');
    expect(new FoundationError({ type: 'external_service_error', message: 'm' }).retryStrategy).toBe('fixed_delay');
    expect(new FoundationError({ type: 'timeout', message: 'm', severity: 'critical' }).retryStrategy).toBe('no_retry');
    expect(new FoundationError({ type: 'invalid_input', message: 'm' }).retryStrategy).toBe('no_retry');
    expect(new FoundationError({ type: 'data_corruption', message: 'm' }).severity).toBe('critical');
  });

  it('computes retry delays: exponential min(1000·2^n, 30000), fixed 1000, immediate 0', () => {
    const exponential = new FoundationError({ type: 'timeout', message: 'm' });
    expect([0, 1, 2, 3, 4, 5, 6, 100].map((attempt) => exponential.retryDelay(attempt))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
    expect(new FoundationError({ type: 'x', message: 'm', retryStrategy: 'fixed_delay' }).retryDelay(7)).toBe(1000);
    expect(new FoundationError({ type: 'x', message: 'm', retryStrategy: 'immediate' }).retryDelay(7)).toBe(0);
    const never = new FoundationError({ type: 'x', message: 'm' });
    expect(never.retryDelay(0)).toBe(Number.POSITIVE_INFINITY);
    expect(never.isRetryable()).toBe(false);
    expect(exponential.isRetryable()).toBe(true);
    expect(isRetryable(exponential)).toBe(true);
    expect(isRetryable(new Error('plain'))).toBe(false);
    expect(retryDelay('nonsense', 1)).toBe(Number.POSITIVE_INFINITY);
    expect(retryDelay(exponential, Number.NaN)).toBe(1000);
  });

  it('gives the longest delay, not the shortest, for an infinite attempt (review finding)', () => {
    // An attempt that is not a finite number counted as the first, so Infinity, the largest
    // attempt there is, waited 1000 ms where attempt 5 already waits the 30,000 ms cap.
    const exponential = new FoundationError({ type: 'timeout', message: 'm' });
    expect(exponential.retryDelay(Number.POSITIVE_INFINITY)).toBe(30_000);
    expect(retryDelay(exponential, Number.POSITIVE_INFINITY)).toBe(30_000);
    expect(exponential.retryDelay(Number.MAX_VALUE)).toBe(30_000);
    expect(exponential.retryDelay(Number.NEGATIVE_INFINITY)).toBe(1000);
    expect(exponential.retryDelay(-1)).toBe(1000);
  });

  it('keeps the subclass name and fields', () => {
    const error = new NotLeaderError('node-3');
    expect(error.name).toBe('NotLeaderError');
    expect(error.code).toBe(6001);
    expect(error.leaderHint).toBe('node-3');
    expect(FoundationError.is(error)).toBe(true);
    expect(FoundationError.hasType(error, 'not_leader')).toBe(true);
    expect(FoundationError.hasType(error, 6001)).toBe(true);
    expect(FoundationError.hasType(error, 'timeout')).toBe(false);
  });

  it('round-trips errors whose message, name or cause message it had to shorten (review finding)', () => {
    // The ellipsis went one character past the limit fromJSON holds the fields to.
    const cause = new Error('c'.repeat(20_000));
    const error = new FoundationError({ type: 'timeout', message: 'x'.repeat(20_000), cause });
    Object.defineProperty(error, 'name', { value: 'N'.repeat(500) });
    const back = FoundationError.fromJSON(JSON.parse(JSON.stringify(error)));
    expect(back.type).toBe('timeout');
    expect(back.message.endsWith('…')).toBe(true);
    expect(back.name.endsWith('…')).toBe(true);
  });

  it('holds every text field to the bounds fromJSON reads it with, so its own wire form reads back (review finding)', () => {
    // The wire form is "bounded in size", but recovery actions went out whole (a megabyte in, a
    // megabyte out), and a correlation id or subcategory over 200 characters went out whole for
    // fromJSON to refuse, so the error arrived as deserialization_failed.
    const error = new FoundationError({
      type: 'timeout',
      message: 'm',
      subcategory: 's'.repeat(300),
      correlationId: 'c'.repeat(300),
      recoveryActions: ['r'.repeat(1_000_000), 'short'],
    });
    const wire = error.toJSON();
    expect(JSON.stringify(wire).length).toBeLessThan(2_000);
    const back = FoundationError.fromJSON(JSON.parse(JSON.stringify(wire)));
    expect(back.type).toBe('timeout');
    expect(back.subcategory).toHaveLength(200);
    expect(back.correlationId).toHaveLength(200);
    expect(back.correlationId!.startsWith('c'.repeat(199))).toBe(true);
    expect(back.recoveryActions).toEqual([`${'r'.repeat(199)}…`, 'short']);
  });

  it('writes a type, code and timestamp the constructor took but fromJSON refuses as the nearest values it reads back', () => {
    // A type with a space, a code past 99999 or a timestamp of NaN went out as given, and the
    // other side got deserialization_failed instead of the error.
    const error = new FoundationError({ type: 'not found: user #7', code: 123_456, message: 'no such user', timestamp: Number.NaN, context: { id: 7 } });
    const back = FoundationError.fromJSON(JSON.parse(JSON.stringify(error)));
    expect({ type: back.type, code: back.code, message: back.message, timestamp: back.timestamp, context: back.context }).toEqual({
      type: 'not_found:_user__7',
      code: 9999,
      message: 'no such user',
      timestamp: 0,
      context: { id: 7 },
    });
    expect(FoundationError.fromJSON(new FoundationError({ type: '', message: 'm' }).toJSON()).type).toBe('unknown');
    expect(FoundationError.fromJSON(new FoundationError({ type: 'é'.repeat(300), message: 'm' }).toJSON()).type).toBe('_'.repeat(200));
  });

  it('recognises errors from another copy of the package by the marker symbol', () => {
    let OtherCopy: typeof FoundationError | undefined;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      OtherCopy = (require('./foundation-error') as { FoundationError: typeof FoundationError }).FoundationError;
    });
    expect(OtherCopy).toBeDefined();
    expect(OtherCopy).not.toBe(FoundationError);
    const foreign = new OtherCopy!({ type: 'timeout', message: 'from the other copy' });
    expect(foreign instanceof FoundationError).toBe(false);
    expect(FoundationError.is(foreign)).toBe(true);
    expect(OtherCopy!.is(new FoundationError({ type: 'timeout', message: 'm' }))).toBe(true);
  });

  it('does not mistake look-alikes for errors', () => {
    expect(FoundationError.is({ code: 1, type: 'x', message: 'y' })).toBe(false);
    expect(FoundationError.is(new Error('x'))).toBe(false);
    expect(FoundationError.is(null)).toBe(false);
    expect(FoundationError.is('error')).toBe(false);
  });

  it('wraps anything thrown with from()', () => {
    const original = new FoundationError({ type: 'timeout', message: 'm' });
    expect(FoundationError.from(original)).toBe(original);
    const wrapped = FoundationError.from(new TypeError('bad'));
    expect(wrapped.type).toBe('internal_error');
    expect(wrapped.message).toBe('bad');
    expect(wrapped.cause).toBeInstanceOf(TypeError);
    const fromString = FoundationError.from('oops', { type: 'invalid_input' });
    expect(fromString.code).toBe(3204);
    expect(fromString.message).toContain('oops');
  });
});

describe('the wire form', () => {
  it('round-trips every field, the subclass name and a chain of causes', () => {
    const root = new Error('disk full');
    const middle = new FoundationError({ type: 'resource_exhausted', message: 'cannot append', cause: root, timestamp: 10 });
    const top = new NotLeaderError('node-9');
    const error = new FoundationError({
      type: 'dependency_failed',
      message: 'raft unavailable',
      cause: new FoundationError({ type: 'timeout', message: 'wrapped', cause: middle, timestamp: 11 }),
      context: { attempts: 3, nested: { ok: true, list: [1, 'two'] } },
      correlationId: 'corr',
      recoveryActions: ['retry later'],
      timestamp: 12,
    });
    const wire = JSON.parse(JSON.stringify(error)) as unknown;
    const back = FoundationError.fromJSON(wire);
    expect(back.type).toBe('dependency_failed');
    expect(back.code).toBe(2301);
    expect(back.severity).toBe('high');
    expect(back.context).toEqual({ attempts: 3, nested: { ok: true, list: [1, 'two'] } });
    expect(back.correlationId).toBe('corr');
    expect(back.recoveryActions).toEqual(['retry later']);
    expect(back.timestamp).toBe(12);
    const timeout = back.cause as FoundationError;
    expect(FoundationError.is(timeout)).toBe(true);
    expect(timeout.type).toBe('timeout');
    const exhausted = timeout.cause as FoundationError;
    expect(exhausted.type).toBe('resource_exhausted');
    expect((exhausted.cause as Error).message).toBe('disk full');
    const rebuilt = FoundationError.fromJSON(JSON.parse(JSON.stringify(top)));
    expect(rebuilt.name).toBe('NotLeaderError');
    expect(rebuilt.code).toBe(6001);
    expect(rebuilt.context).toEqual({ leaderHint: 'node-9' });
  });

  it('turns non-JSON context values into descriptions instead of failing', () => {
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    const error = new FoundationError({
      type: 'internal_error',
      message: 'm',
      context: { fn: () => 1, big: 10n, circular, when: new Date(0), bytes: new Uint8Array(4), nan: Number.NaN },
    });
    const wire = error.toJSON();
    expect(wire.context).toEqual({
      fn: '[function fn]',
      big: '10',
      circular: { name: 'loop', self: '[circular]' },
      when: '1970-01-01T00:00:00.000Z',
      bytes: '[Uint8Array 4 bytes]',
      nan: 'NaN',
    });
    expect(() => JSON.stringify(wire)).not.toThrow();
  });

  it('builds the wire form of values that throw when read, instead of throwing (review finding)', () => {
    // toPlainData promised that building an error report never throws, but read properties
    // and asked Array.isArray of what it was given: a getter that throws, or a revoked proxy,
    // anywhere in the context (or as the cause) made toJSON and FoundationError.from throw.
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const throwing = Object.defineProperty({ kept: 1 }, 'secret', { get: () => { throw new Error('getter'); }, enumerable: true });
    const namedBadly = Object.defineProperty(new Error('cause message'), 'name', { get: () => { throw new Error('name'); } });
    const error = new FoundationError({ type: 'internal_error', message: 'm', context: { throwing, proxy: revoked.proxy }, cause: namedBadly });
    const wire = error.toJSON();
    expect(wire.context).toEqual({ throwing: { kept: 1, secret: '[unreadable]' }, proxy: '[unreadable]' });
    expect(wire.cause).toEqual({ name: '[unreadable]', message: 'cause message' });
    expect(FoundationError.fromJSON(JSON.parse(JSON.stringify(wire))).type).toBe('internal_error');
    expect(toPlainData(revoked.proxy)).toBe('[unreadable]');
    const wrapped = FoundationError.from(revoked.proxy);
    expect(wrapped.type).toBe('internal_error');
    expect(wrapped.message).toBe('non-error value thrown: "[unreadable]"');
    expect(wrapped.toJSON().cause).toEqual({ name: 'thrown', message: '"[unreadable]"' });
    expect(FoundationError.is(revoked.proxy)).toBe(false);
  });

  it('bounds and copies the name and message of an error held in the context, as every other value there', () => {
    // A context often holds the error that led to this one; its message may be a whole response
    // body, and code may have set its name or message to anything, a circular object included.
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const odd = new Error('odd');
    Object.assign(odd, { name: { nested: true }, message: circular });
    const error = new FoundationError({ type: 'internal_error', message: 'm', context: { huge: new Error('x'.repeat(100_000)), odd } });
    const wire = error.toJSON();
    const context = wire.context as { huge: { name: string; message: string }; odd: unknown };
    expect(context.huge.name).toBe('Error');
    expect(context.huge.message.length).toBeLessThanOrEqual(8193);
    expect(context.odd).toEqual({ name: { nested: true }, message: { self: '[circular]' } });
    expect(FoundationError.fromJSON(JSON.parse(JSON.stringify(wire))).context).toEqual(wire.context);
  });

  it.each([
    ['null', null],
    ['a string', 'error'],
    ['a number', 42],
    ['an array', []],
    ['an untagged object', { code: 1, type: 'x', message: 'm' }],
    ['a wrong version', { [SERIALIZED_ERROR_TAG]: 99 }],
    ['a bad code', { ...validWire(), code: 'one' }],
    ['a negative code', { ...validWire(), code: -1 }],
    ['a bad severity', { ...validWire(), severity: 'apocalyptic' }],
    ['a bad type', { ...validWire(), type: 'no spaces allowed' }],
    ['a huge message', { ...validWire(), message: 'x'.repeat(100_000) }],
    ['a non-object context', { ...validWire(), context: 'ctx' }],
    ['a bad timestamp', { ...validWire(), timestamp: 'now' }],
    ['bad recovery actions', { ...validWire(), recoveryActions: [1, 2] }],
    ['a cause that is a number', { ...validWire(), cause: 5 }],
  ])('returns a deserialization error for %s, never throwing', (_label, input) => {
    const error = FoundationError.fromJSON(input);
    expect(FoundationError.is(error)).toBe(true);
    expect(error.type).toBe('deserialization_failed');
    expect(error.code).toBe(3102);
    expect(error.category).toBe('data');
  });

  it('refuses causes nested beyond the limit instead of recursing without bound', () => {
    let wire: Record<string, unknown> = validWire();
    for (let depth = 0; depth < 10_000; depth += 1) wire = { ...validWire(), cause: wire };
    const error = FoundationError.fromJSON(wire);
    expect(error.type).toBe('deserialization_failed');
    expect(error.message).toContain('nested deeper');
  });

  it('never lets decoded context reach a prototype', () => {
    const hostile = JSON.parse(
      `{"${SERIALIZED_ERROR_TAG}":1,"name":"E","code":3204,"type":"invalid_input","message":"m","severity":"low",` +
        `"category":"data","retryStrategy":"no_retry","timestamp":1,` +
        `"context":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"safe":1}}`,
    ) as unknown;
    const error = FoundationError.fromJSON(hostile);
    expect(error.type).toBe('invalid_input');
    expect(error.context).toEqual({ safe: 1 });
    expect(Object.prototype.hasOwnProperty.call(error.context, '__proto__')).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('never throws on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.record({ [SERIALIZED_ERROR_TAG]: fc.constant(1), code: fc.anything(), type: fc.anything() })), (input) => {
        const error = FoundationError.fromJSON(input);
        return FoundationError.is(error);
      }),
      { numRuns: 500, seed: 20261128 },
    );
  });
});

function validWire(): Record<string, unknown> {
  return new FoundationError({ type: 'invalid_input', message: 'm', timestamp: 1 }).toJSON() as unknown as Record<string, unknown>;
}
