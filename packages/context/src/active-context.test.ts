import { describe, expect, it } from '@jest/globals';
import { EventEmitter, once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { bindContext, currentContext, getValue, withContext } from './active-context';
import { EMPTY_CONTEXT, createContext, createContextKey } from './context';
import { CONTEXT_ERROR_CODES } from './errors/codes';
import { InvalidContextValueError } from './errors/invalid-context-value-error';
import { reconstructPath } from './hop-path';

// No OpenTelemetry context manager is registered in this file: the private store is used.

describe('withContext without OpenTelemetry', () => {
  it('is empty outside any withContext and restores the outer context afterwards', () => {
    expect(currentContext()).toBe(EMPTY_CONTEXT);
    withContext({ correlationId: 'outer', tenant: 'acme' }, () => {
      expect(getValue('correlationId')).toBe('outer');
      withContext({ correlationId: 'inner' }, () => {
        expect(getValue('correlationId')).toBe('inner');
        expect(getValue('tenant')).toBe('acme'); // merged onto the outer context
      });
      expect(getValue('correlationId')).toBe('outer');
    });
    expect(currentContext()).toBe(EMPTY_CONTEXT);
  });

  it('replaces the context when given a whole Context, and returns what fn returns', () => {
    const given = createContext({ correlationId: 'given' });
    const result = withContext({ tenant: 'acme' }, () =>
      withContext(given, () => {
        expect(currentContext()).toBe(given);
        expect(getValue('tenant')).toBeUndefined();
        return 42;
      }),
    );
    expect(result).toBe(42);
  });

  it('survives await, setTimeout, setImmediate and queueMicrotask', async () => {
    const seen = await withContext({ correlationId: 'async' }, async () => {
      const values: unknown[] = [];
      await Promise.resolve();
      values.push(getValue('correlationId'));
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
      values.push(getValue('correlationId'));
      await nextTurn();
      values.push(getValue('correlationId'));
      await new Promise<void>((resolve) =>
        queueMicrotask(() => {
          values.push(getValue('correlationId'));
          resolve();
        }),
      );
      values.push(await new Promise((resolve) => setTimeout(() => resolve(getValue('correlationId')), 1)));
      return values;
    });
    expect(seen).toEqual(['async', 'async', 'async', 'async', 'async']);
    expect(currentContext()).toBe(EMPTY_CONTEXT);
  });

  it('keeps concurrent branches of Promise.all apart', async () => {
    const requests = Array.from({ length: 20 }, (_, index) => `request-${index}`);
    const results = await Promise.all(
      requests.map((requestId, index) =>
        withContext({ requestId }, async () => {
          const seen: unknown[] = [];
          for (let step = 0; step < 3; step += 1) {
            await new Promise<void>((resolve) => setTimeout(resolve, (index * 7 + step * 3) % 5));
            seen.push(getValue('requestId'));
          }
          const nested = await Promise.all([1, 2].map(async () => (await Promise.resolve(), getValue('requestId'))));
          return [...seen, ...nested];
        }),
      ),
    );
    results.forEach((seen, index) => expect(seen).toEqual(Array(5).fill(requests[index])));
  });

  it('is seen by EventEmitter listeners called inside it, and by bound listeners wherever they are called', async () => {
    const emitter = new EventEmitter();
    const seenDirect: unknown[] = [];
    const seenBound: unknown[] = [];
    emitter.on('tick', () => seenDirect.push(getValue('correlationId')));
    withContext({ correlationId: 'registrar' }, () => {
      emitter.on('tick', bindContext(() => seenBound.push(getValue('correlationId'))));
    });
    withContext({ correlationId: 'emitter' }, () => emitter.emit('tick'));
    emitter.emit('tick');
    // An emitter that fires later, from a timer started inside a context.
    const later = new EventEmitter();
    const fired = once(later, 'done');
    withContext({ correlationId: 'timer' }, () => setTimeout(() => later.emit('done', getValue('correlationId')), 1));
    expect(await fired).toEqual(['timer']);
    expect(seenDirect).toEqual(['emitter', undefined]);
    expect(seenBound).toEqual(['registrar', 'registrar']);
  });

  it('passes exceptions and rejections through and still restores the outer context', async () => {
    expect(() =>
      withContext({ correlationId: 'boom' }, () => {
        throw new Error('sync failure');
      }),
    ).toThrow('sync failure');
    await expect(
      withContext({ correlationId: 'boom' }, async () => {
        await Promise.resolve();
        throw new Error('async failure');
      }),
    ).rejects.toThrow('async failure');
    expect(currentContext()).toBe(EMPTY_CONTEXT);
  });

  it('reads typed symbol keys', () => {
    const tenantKey = createContextKey<string>('tenant');
    withContext(createContext().setValue(tenantKey, 'acme'), () => {
      const tenant: string | undefined = getValue(tenantKey);
      expect(tenant).toBe('acme');
    });
  });
});

const HOP = { correlationId: 'c', node: 'a', process: 'p', direction: 'in', hops: 0, time: 1 } as const;

describe('arguments from JavaScript', () => {
  // Left over from the review finding that gave the other public entries coded errors: a
  // callback that is not a function threw a bare TypeError when withContext called it, and
  // bindContext returned a wrapper that failed only when called, far from the mistake;
  // reconstructPath(null) threw "records is not iterable", and took a string's characters as
  // records.
  it.each([
    ['withContext(values, null)', 'fn', () => withContext({ tenant: 'acme' }, null as never)],
    ['withContext(context, "fn")', 'fn', () => withContext(EMPTY_CONTEXT, 'fn' as never)],
    ['bindContext(null)', 'fn', () => bindContext(null as never)],
    ['bindContext({})', 'fn', () => bindContext({} as never)],
    ['reconstructPath(null)', 'records', () => reconstructPath(null as never)],
    ['reconstructPath("ab")', 'records', () => reconstructPath('ab' as never)],
    ['reconstructPath({})', 'records', () => reconstructPath({} as never)],
    // An item that is not a hop record threw "Cannot read properties of null (reading 'hops')"
    // from inside the sort, and one without a number for hops or time sorted nowhere in particular.
    ['reconstructPath([null, record])', 'records[0]', () => reconstructPath([null, HOP] as never)],
    ['reconstructPath([record, "x"])', 'records[1]', () => reconstructPath([HOP, 'x'] as never)],
    ['reconstructPath([record, { hops: "1" }])', 'records[1]', () => reconstructPath([HOP, { ...HOP, hops: '1' }] as never)],
    ['reconstructPath([record, { time: NaN }])', 'records[1]', () => reconstructPath([HOP, { ...HOP, time: Number.NaN }] as never)],
  ])('%s throws InvalidContextValueError (5201) naming %s', (_call, key, action) => {
    let error: unknown;
    try {
      action();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidContextValueError);
    expect((error as InvalidContextValueError).code).toBe(CONTEXT_ERROR_CODES.invalidValue);
    expect((error as InvalidContextValueError).key).toBe(key);
  });

  it('still takes what it took before', () => {
    expect(withContext({ tenant: 'acme' }, () => getValue('tenant'))).toBe('acme');
    const bound = withContext({ tenant: 'acme' }, () => bindContext((suffix: string) => `${String(getValue('tenant'))}${suffix}`));
    expect(bound('!')).toBe('acme!');
    expect(reconstructPath([])).toEqual([]);
  });
});
