// No update, read or source can reach a prototype: unsafe path segments and unsafe keys are
// refused with a security error (5401) before anything changes, and so are values that could
// run code (functions, accessors, proxies) or are not plain data (class instances, symbols).
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FoundationError } from '@foundation/core';
import { z } from 'zod';
import { createConfig } from './config';
import { ConfigSecurityError } from './errors/config-security-error';
import { MAX_VALUE_NODES, inspectedPropertyCount } from './internal/plain-data';

const probes = ['polluted', 'x', 'isAdmin', 'toString'] as const;

function prototypesAreClean(): void {
  const plain: Record<string, unknown> = {};
  for (const probe of ['polluted', 'x', 'isAdmin']) {
    expect(plain[probe]).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>)[probe]).toBeUndefined();
    expect(([] as unknown as Record<string, unknown>)[probe]).toBeUndefined();
    expect((Object as unknown as Record<string, unknown>)[probe]).toBeUndefined();
  }
  expect(typeof plain.toString).toBe('function');
  expect(Object.prototype.toString).toBe(Object.prototype.toString);
}

function makeConfig() {
  return createConfig({
    defaults: { feature: { enabled: false, limits: { rate: 1 } }, list: [{ name: 'a' }] },
    updatablePaths: [[]], // everything is updatable: only the security checks stand in the way
    onSubscriberError: () => undefined,
  });
}

function securityError(action: () => unknown): ConfigSecurityError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigSecurityError);
    expect((error as FoundationError).code).toBe(5401);
    expect((error as FoundationError).type).toBe('config_security_violation');
    return error as ConfigSecurityError;
  }
  throw new Error('expected a security error');
}

afterEach(prototypesAreClean);

describe('unsafe path segments', () => {
  const paths: unknown[] = [
    ['__proto__', 'polluted'],
    '__proto__.polluted',
    'constructor.prototype.x',
    ['constructor', 'prototype', 'x'],
    'feature.__proto__.polluted',
    ['feature', 'constructor', 'prototype', 'isAdmin'],
    'list.0.__proto__.polluted',
    'prototype',
    ['list', 'constructor'],
  ];

  it.each(paths.map((path) => [JSON.stringify(path), path]))('update(%s) is refused before anything changes', (_label, path) => {
    const config = makeConfig();
    const before = config.get();
    let notified = 0;
    config.subscribe(() => (notified += 1));
    const error = securityError(() => config.update(path as string, { polluted: true, x: 1, isAdmin: true }));
    expect(error.reason).toBe('unsafe-key');
    expect(config.safeUpdate(path as string, true).ok).toBe(false);
    expect(config.checkUpdate(path as string, true).ok).toBe(false);
    expect(config.get()).toBe(before);
    expect(config.status().updateCount).toBe(0);
    expect(notified).toBe(0);
  });

  it('is refused for reads, allow-lists and isUpdatable as well', () => {
    const config = makeConfig();
    securityError(() => config.get('constructor.prototype'));
    securityError(() => config.get(['__proto__']));
    securityError(() => config.isUpdatable('a.__proto__'));
    securityError(() => createConfig({ defaults: {}, updatablePaths: ['constructor.prototype'] }));
  });

  it('is refused even before the allow-list is consulted', () => {
    const config = createConfig({ defaults: { a: 1 }, updatablePaths: ['a'] });
    securityError(() => config.update(['__proto__', 'polluted'], true)); // 5401, not 1401
  });
});

describe('unsafe keys inside values', () => {
  it('refuses __proto__, constructor and prototype keys at any depth, including from JSON.parse', () => {
    const config = makeConfig();
    const values = [
      JSON.parse('{"__proto__": {"polluted": true}}'),
      JSON.parse('{"limits": {"__proto__": {"polluted": true}}}'),
      { constructor: { prototype: { x: 1 } } },
      { nested: [{ prototype: { x: 1 } }] },
      JSON.parse('[{"a": {"__proto__": {"isAdmin": true}}}]'),
    ];
    for (const value of values) {
      const error = securityError(() => config.update('feature', value));
      expect(error.reason).toBe('unsafe-key');
    }
    expect(config.status().updateCount).toBe(0);
  });

  it('refuses them in defaults', () => {
    securityError(() => createConfig({ defaults: JSON.parse('{"a": {"__proto__": {"polluted": 1}}}') as Record<string, unknown> }));
  });
});

describe('values that are not plain data', () => {
  class Settings {
    enabled = true;
  }
  const cases: [string, () => unknown, string][] = [
    ['a function', () => () => 1, 'non-plain-value'],
    ['a class instance', () => new Settings(), 'non-plain-value'],
    ['a Date', () => new Date(0), 'non-plain-value'],
    ['a Map', () => new Map([['a', 1]]), 'non-plain-value'],
    ['a symbol', () => Symbol('s'), 'non-plain-value'],
    ['a symbol-keyed property', () => ({ [Symbol('s')]: 1 }), 'non-plain-value'],
    ['a getter', () => Object.defineProperty({}, 'enabled', { get: () => true, enumerable: true }), 'non-plain-value'],
    ['a proxy of a plain object', () => new Proxy({ enabled: true }, {}), 'non-plain-value'],
    ['a proxy that lies about its prototype', () => new Proxy({}, { getPrototypeOf: () => Object.prototype }), 'non-plain-value'],
    ['an array with a named property', () => Object.assign([1], { extra: 2 }), 'non-plain-value'],
    ['an object with a null prototype holding a function', () => Object.assign(Object.create(null) as object, { f: () => 1 }), 'non-plain-value'],
    ['a typed array', () => new Uint8Array(2), 'non-plain-value'],
    [
      'a circular object',
      () => {
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        return circular;
      },
      'circular-value',
    ],
  ];

  it.each(cases)('refuses %s', (_label, make, reason) => {
    const config = makeConfig();
    const before = config.get();
    const error = securityError(() => config.update('feature.enabled', make()));
    expect(error.reason).toBe(reason);
    expect(config.get()).toBe(before);
  });

  it('refuses an array of holes after at most the value budget, whatever its length (review finding)', () => {
    // Holes did not count against the budget: new Array(2 ** 32 - 1) walked four billion indexes.
    const config = makeConfig();
    const result = config.safeUpdate('feature', { enabled: true, list: new Array(2 ** 32 - 1) });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.error.message).toMatch(/holes/);
  });

  it('refuses an array or object larger than the value budget without reading each of its properties (review finding)', () => {
    // Every own property of an array was read (Object.getOwnPropertyDescriptors) before the
    // budget was looked at: a 16 MB config file of [0,0,...] (eight million items) took 24 s and
    // a gigabyte of memory to refuse, where the budget was meant to stop it after a million.
    const config = makeConfig();
    for (const large of [new Array<number>(3 * MAX_VALUE_NODES).fill(0), Object.fromEntries(Array.from({ length: 3 * MAX_VALUE_NODES }, (_, index) => [`k${index}`, 0]))]) {
      const before = inspectedPropertyCount();
      const result = config.safeUpdate('feature', { enabled: true, list: large });
      expect(result.ok ? '' : result.error.message).toMatch(/more than 1000000 values/);
      expect(inspectedPropertyCount() - before).toBeLessThanOrEqual(MAX_VALUE_NODES + 10);
    }
  });

  it('does not run a getter while refusing it', () => {
    let ran = false;
    const config = makeConfig();
    const value = Object.defineProperty({}, 'enabled', {
      get: () => {
        ran = true;
        return true;
      },
      enumerable: true,
    });
    securityError(() => config.update('feature', value));
    expect(ran).toBe(false);
  });

  it('accepts objects with a null prototype holding plain data, and shared (non-circular) references', () => {
    const config = makeConfig();
    const shared = { rate: 2 };
    const value = Object.assign(Object.create(null) as object, { enabled: true, limits: shared, copy: shared });
    config.update('feature', value);
    expect(config.get('feature.copy.rate')).toBe(2);
  });
});

describe('sources', () => {
  let directory: string | undefined;
  afterEach(() => {
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
    directory = undefined;
  });

  it('refuses a JSON file with __proto__, constructor or prototype keys', () => {
    directory = mkdtempSync(join(tmpdir(), 'foundation-config-'));
    for (const text of ['{"__proto__": {"polluted": true}}', '{"a": {"constructor": {"prototype": {"x": 1}}}}', '{"list": [{"prototype": 1}]}']) {
      const file = join(directory, 'config.json');
      writeFileSync(file, text);
      const error = securityError(() => createConfig({ defaults: {}, sources: { file } }));
      expect(error.message).toContain(file);
    }
  });

  it('refuses environment variables that name unsafe keys or carry unsafe JSON', () => {
    const cases: Record<string, string>[] = [
      { APP_CONSTRUCTOR__PROTOTYPE__X: '1' },
      { APP_FEATURE__PROTOTYPE: '1' },
      { APP_FEATURE: '{"__proto__": {"polluted": true}}' },
      { APP_LIST: '[{"constructor": {"prototype": {"isAdmin": true}}}]' },
    ];
    for (const variables of cases) {
      const error = securityError(() =>
        createConfig({ defaults: { feature: { enabled: false }, list: [] }, sources: { environment: { prefix: 'APP', variables } } }),
      );
      expect(error.message).toContain(Object.keys(variables)[0]!);
    }
  });
});

describe('property: no sequence of updates reaches a prototype', () => {
  const unsafe = fc.constantFrom('__proto__', 'constructor', 'prototype');
  const key = fc.oneof(unsafe, fc.constantFrom('feature', 'limits', 'rate', 'enabled', 'list', '0', ...probes), fc.string({ maxLength: 4 }));
  const value = fc.letrec((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small' },
      fc.constantFrom<unknown>(true, 1, 'x', null),
      fc.array(tie('tree'), { maxLength: 3 }),
      fc.dictionary(key, tie('tree'), { maxKeys: 3 }),
    ),
  })).tree;
  const path = fc.oneof(fc.array(key, { minLength: 1, maxLength: 5 }), fc.array(key, { minLength: 1, maxLength: 5 }).map((keys) => keys.join('.')));

  it('holds for random paths and values mixing safe and unsafe keys (seed=20261128)', () => {
    const seed = 20261128;
    fc.assert(
      fc.property(fc.array(fc.tuple(path, value), { minLength: 1, maxLength: 8 }), (updates) => {
        const config = makeConfig();
        for (const [target, next] of updates) {
          const before = config.get();
          const result = config.safeUpdate(target, next);
          if (!result.ok) expect(config.get()).toBe(before);
          const text = JSON.stringify(typeof target === 'string' ? target.split('.') : target) + JSON.stringify(next);
          if (/"(__proto__|constructor|prototype)"/.test(text)) expect(result.ok).toBe(false);
        }
        prototypesAreClean();
      }),
      { seed, numRuns: 400 },
    );
  });
});

describe('zod schemas do not reopen the hole', () => {
  it('a passthrough schema still cannot let an unsafe key in', () => {
    const config = createConfig({ defaults: { bag: {} }, schema: z.object({ bag: z.record(z.string(), z.unknown()) }), updatablePaths: ['bag'] });
    securityError(() => config.update('bag', JSON.parse('{"__proto__": {"polluted": true}}')));
    expect(config.get('bag')).toEqual({});
  });
});
