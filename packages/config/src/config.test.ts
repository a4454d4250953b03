import { describe, expect, it, jest } from '@jest/globals';
import { FoundationError } from '@foundation/core';
import { createSimulation } from '@foundation/testkit';
import { z } from 'zod';
import { createConfig } from './config';
import { CONFIG_ERROR_CODES } from './errors/config-error-codes';
import { ConfigPathError } from './errors/config-path-error';
import { ConfigPathNotFoundError } from './errors/config-path-not-found-error';
import { ConfigReentrantUpdateError } from './errors/config-reentrant-update-error';
import { ConfigSchemaError } from './errors/config-schema-error';
import { ConfigStructureError } from './errors/config-structure-error';
import type { ConfigSubscriberError } from './errors/config-subscriber-error';
import { ConfigUpdateForbiddenError } from './errors/config-update-forbidden-error';
import { ConfigValidationError } from './errors/config-validation-error';
import { copiedEntryCount } from './internal/tree';
import type { StandardSchemaV1 } from './standard-schema';
import type { Config, ConfigChange, ConfigNotification, ConfigWrite } from './types';

const schema = z.object({
  dev: z.object({ debugMode: z.boolean(), verboseLogging: z.boolean() }),
  telemetry: z.object({ samplingRate: z.number().min(0).max(1), exportUrl: z.string().url().optional() }),
  server: z.object({ port: z.number().int().positive().max(65_535), hosts: z.array(z.string()) }),
});
type Settings = z.infer<typeof schema>;

const defaults: Settings = {
  dev: { debugMode: false, verboseLogging: false },
  telemetry: { samplingRate: 1 },
  server: { port: 4000, hosts: ['a.example', 'b.example'] },
};

function makeConfig(options: { updatablePaths?: string[]; onSubscriberError?: (error: ConfigSubscriberError) => void } = {}) {
  return createConfig({
    defaults,
    schema,
    updatablePaths: options.updatablePaths ?? ['dev.debugMode', 'telemetry', 'server.hosts'],
    onSubscriberError: options.onSubscriberError ?? (() => undefined),
  });
}

function thrown(action: () => unknown): FoundationError {
  try {
    action();
  } catch (error) {
    expect(FoundationError.is(error)).toBe(true);
    return error as FoundationError;
  }
  throw new Error('expected the action to throw');
}

describe('reading', () => {
  it('returns the whole config as a deeply frozen snapshot, the same object until a change', () => {
    const config = makeConfig();
    const whole = config.get();
    expect(whole).toEqual(defaults);
    expect(Object.isFrozen(whole)).toBe(true);
    expect(Object.isFrozen(whole.server)).toBe(true);
    expect(Object.isFrozen(whole.server.hosts)).toBe(true);
    expect(config.get()).toBe(whole);
    expect(() => {
      (whole.dev as { debugMode: boolean }).debugMode = true;
    }).toThrow(TypeError);
    config.update('dev.debugMode', true);
    expect(config.get()).not.toBe(whole);
    expect(whole.dev.debugMode).toBe(false);
  });

  it('reads a path given as an array of keys or as a dotted string, arrays by index', () => {
    const config = makeConfig();
    expect(config.get(['server', 'port'])).toBe(4000);
    expect(config.get('server.port')).toBe(4000);
    expect(config.get('server.hosts.1')).toBe('b.example');
    expect(config.get(['server', 'hosts', 0])).toBe('a.example');
    expect(config.get([])).toBe(config.get());
    expect(config.get('dev')).toEqual({ debugMode: false, verboseLogging: false });
  });

  it('is typed by the schema', () => {
    const config = makeConfig();
    const port: number = config.get('server.port');
    const hosts: readonly string[] = config.get('server.hosts');
    const rate: number = config.get().telemetry.samplingRate;
    expect([port, hosts.length, rate]).toEqual([4000, 2, 1]);
  });

  it('throws config_path_not_found (1301) for a missing path, as 1.x did, instead of returning undefined', () => {
    const config = makeConfig();
    for (const path of ['dev.missing', ['server', 'port', 'deeper'], 'server.hosts.2', 'nothing', ['telemetry', 'exportUrl']]) {
      const error = thrown(() => config.get(path));
      expect(error).toBeInstanceOf(ConfigPathNotFoundError);
      expect(error.code).toBe(1301);
      expect(error.type).toBe('config_path_not_found');
    }
    expect((thrown(() => config.get('dev.missing')) as ConfigPathNotFoundError).path).toEqual(['dev', 'missing']);
  });

  it('never reads through a prototype: inherited names are missing paths', () => {
    const config = makeConfig();
    for (const path of ['toString', 'dev.hasOwnProperty', 'server.hosts.length', 'server.hosts.map', 'dev.valueOf']) {
      expect(thrown(() => config.get(path)).code).toBe(1301);
    }
  });

  it('rejects what is not a path with config_path_invalid (5406)', () => {
    const config = makeConfig();
    for (const path of ['', 'a..b', '.a', 'a.', ['a', -1], ['a', 1.5], ['a', {}], 42, null, Array.from({ length: 65 }, () => 'a')]) {
      const error = thrown(() => config.get(path as never));
      expect(error).toBeInstanceOf(ConfigPathError);
      expect(error.code).toBe(CONFIG_ERROR_CODES.invalidPath);
    }
  });

  it('getWithDefault returns the fallback only for a missing path', () => {
    const config = makeConfig();
    expect(config.getWithDefault('server.port', 1)).toBe(4000);
    expect(config.getWithDefault('server.timeoutMs', 5000)).toBe(5000);
    expect(config.getWithDefault(['dev', 'nope', 'deeper'], 'x')).toBe('x');
    expect(thrown(() => config.getWithDefault('constructor.prototype', 1)).code).toBe(5401);
    expect(thrown(() => config.getWithDefault('a..b', 1)).code).toBe(5406);
  });

  it('reads keys that hold a dot through an array path', () => {
    const config = createConfig({ defaults: { hosts: { 'db.internal': 5432 } } });
    expect(config.get(['hosts', 'db.internal'])).toBe(5432);
    expect(thrown(() => config.get('hosts.db.internal')).code).toBe(1301);
  });
});

describe('updating', () => {
  it('applies an allowed update, returns the new value and counts it', () => {
    const config = makeConfig();
    expect(config.update('dev.debugMode', true)).toBe(true);
    expect(config.get('dev.debugMode')).toBe(true);
    expect(config.update(['telemetry', 'samplingRate'], 0.25)).toBe(0.25);
    expect(config.get().telemetry.samplingRate).toBe(0.25);
    expect(config.status().updateCount).toBe(2);
  });

  it('allows everything beneath an allowed path, and nothing above or beside it', () => {
    const config = makeConfig();
    expect(config.isUpdatable('telemetry.samplingRate')).toBe(true);
    expect(config.isUpdatable('telemetry')).toBe(true);
    expect(config.isUpdatable('dev')).toBe(false);
    expect(config.isUpdatable('dev.verboseLogging')).toBe(false);
    config.update('telemetry', { samplingRate: 0.5, exportUrl: 'https://collector.example/v1' });
    expect(config.get('telemetry.exportUrl')).toBe('https://collector.example/v1');
    config.update('server.hosts.2', 'c.example');
    expect(config.get('server.hosts')).toEqual(['a.example', 'b.example', 'c.example']);
  });

  it('refuses a path outside the allow-list with config_update_forbidden (1401), changing nothing', () => {
    const config = makeConfig();
    const before = config.get();
    for (const path of ['server.port', 'dev', 'dev.verboseLogging', [], 'brandNew']) {
      const error = thrown(() => config.update(path, 1));
      expect(error).toBeInstanceOf(ConfigUpdateForbiddenError);
      expect(error.code).toBe(1401);
      expect(error.type).toBe('config_update_forbidden');
      expect(error.message).toContain('dev.debugMode');
    }
    expect(config.get()).toBe(before);
    expect(config.status().updateCount).toBe(0);
  });

  it.each([
    ['a string', 'limits'],
    ['an object', { limits: true }],
  ])('refuses an allow-list that is %s at creation, saying it must be an array of paths', (_kind, updatablePaths) => {
    // A single path given without its array ('limits') failed with "….map is not a function".
    expect(() => createConfig({ defaults: { limits: 1 }, updatablePaths: updatablePaths as never })).toThrow(new TypeError('updatablePaths must be an array of paths'));
  });

  it('refuses every update when no allow-list is given', () => {
    const config = createConfig({ defaults: { a: 1 } });
    expect(config.updatablePaths()).toEqual([]);
    expect(thrown(() => config.update('a', 2)).code).toBe(1401);
  });

  it('rejects a value the schema refuses with invalid_config_value (1201), naming the path and the validator message', () => {
    const config = makeConfig();
    const before = config.get();
    const error = thrown(() => config.update('dev.debugMode', 'yes'));
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect(error.code).toBe(1201);
    expect(error.type).toBe('invalid_config_value');
    expect(error.message).toContain('dev.debugMode');
    expect(error.message).toMatch(/expected boolean/i);
    expect((error as ConfigValidationError).path).toEqual(['dev', 'debugMode']);
    expect((error as ConfigValidationError).issues[0]).toMatchObject({ path: ['dev', 'debugMode'], code: 'invalid_type' });
    expect(config.get()).toBe(before);
  });

  it('rejects an out-of-range value with range_error (1203), as 1.x did for a sampling rate outside 0..1', () => {
    const config = makeConfig();
    for (const value of [1.5, -0.1]) {
      const error = thrown(() => config.update('telemetry.samplingRate', value));
      expect(error.code).toBe(1203);
      expect(error.type).toBe('range_error');
      expect(error.message).toContain('telemetry.samplingRate');
    }
    expect(config.get('telemetry.samplingRate')).toBe(1);
  });

  it('validates the whole new config, so an update that breaks another part is refused whole', () => {
    const config = makeConfig({ updatablePaths: ['telemetry'] });
    const before = config.get();
    const error = thrown(() => config.update('telemetry', { samplingRate: 2, exportUrl: 'not a url' }));
    expect(error.code).toBe(1201); // one range issue and one format issue: not only range
    expect((error as ConfigValidationError).issues.map((issue) => issue.path.join('.')).sort()).toEqual([
      'telemetry.exportUrl',
      'telemetry.samplingRate',
    ]);
    expect(config.get()).toBe(before);
  });

  it('refuses values JSON cannot hold with 1201: undefined, NaN, Infinity, bigint, holes', () => {
    const config = makeConfig({ updatablePaths: ['telemetry', 'server.hosts'] });
    for (const value of [undefined, Number.NaN, Number.POSITIVE_INFINITY, 10n]) {
      expect(thrown(() => config.update('telemetry.samplingRate', value)).code).toBe(1201);
    }
    // eslint-disable-next-line no-sparse-arrays
    expect(thrown(() => config.update('server.hosts', ['a', , 'c'])).code).toBe(1201);
    expect(config.status().updateCount).toBe(0);
  });

  it('refuses with 1201 a value that would nest the config deeper than 64 levels, counting from the root and not from the path set (review finding)', () => {
    // The depth limit counted from the path being set: a value 64 levels deep set at `open`, or
    // a small one set 64 keys down, made a config deeper than the limit, whose own contents
    // validate(get()) then refused, as a file holding them would have been.
    const nest = (levels: number, leaf: unknown): unknown => {
      let value = leaf;
      for (let level = 0; level < levels; level += 1) value = { k: value };
      return value;
    };
    const config = createConfig({ defaults: { open: {} }, updatablePaths: ['open'] });
    const tooDeep = thrown(() => config.update('open', nest(63, {})));
    expect(tooDeep).toBeInstanceOf(ConfigValidationError);
    expect(tooDeep.code).toBe(1201);
    expect(tooDeep.message).toContain('nested deeper than 64 levels');
    // As deep as the limit allows: the last object 63 levels below the root.
    config.update('open', nest(62, {}));
    const deepest = ['open', ...Array.from({ length: 62 }, () => 'k')];
    expect(thrown(() => config.update([...deepest, 'x'], { y: 1 })).code).toBe(1201);
    expect(thrown(() => config.updateMany([{ path: [...deepest, 'x'], value: [] }])).code).toBe(1201);
    const checked = config.checkUpdate([...deepest, 'x'], {});
    expect(checked.ok ? 0 : checked.error.code).toBe(1201);
    // A value that adds no level still fits, however long its path.
    config.update([...deepest, 'x'], 1);
    expect(config.get([...deepest, 'x'])).toBe(1);
    expect(config.validate(config.get()).ok).toBe(true);
    // An environment variable 64 keys down is held to the same limit as the config it writes into.
    const named = `F_${Array.from({ length: 64 }, () => 'A').join('__')}`;
    expect(thrown(() => createConfig({ defaults: {}, sources: { environment: { prefix: 'F', variables: { [named]: '{"x": 1}' } } } })).code).toBe(1201);
  });

  it('refuses strings that are not well-formed Unicode with 1201, in values and in keys (UTF-8, and so every other node, cannot hold a lone surrogate)', () => {
    const config = makeConfig({ updatablePaths: ['telemetry', 'server.hosts', 'dev'] });
    const before = config.get();
    expect(thrown(() => config.update('server.hosts', ['a.example', 'cut \ud83d'])).code).toBe(1201);
    expect(thrown(() => config.update('server.hosts', ['\udc00'])).code).toBe(1201);
    expect(thrown(() => config.update('dev', { debugMode: true, verboseLogging: false, ['x\ud800']: 1 })).code).toBe(1201);
    expect(thrown(() => createConfig({ defaults: { name: 'a\ud800b' } })).code).toBe(1201);
    expect(config.get()).toBe(before);
    // Whole pairs are fine.
    config.update('server.hosts', ['emoji \ud83d\ude00']);
    expect(config.get().server.hosts).toEqual(['emoji \ud83d\ude00']);
  });

  it('refuses a key with a lone surrogate given as a path segment with 1201, as in a value (review finding)', () => {
    // Keys inside a value were checked, but a key named by the path of update, updateMany or
    // checkUpdate (which the consensus port's setClusterWide calls) went into the tree as it was,
    // and reached the other nodes with U+FFFD in its place.
    const config = createConfig({ defaults: { extra: {} }, schema: z.object({ extra: z.record(z.string(), z.number()) }), updatablePaths: ['extra'] });
    const before = config.get();
    expect(thrown(() => config.update(['extra', 'x\ud800'], 1)).code).toBe(1201);
    expect(thrown(() => config.update('extra.y\udc00', 1)).code).toBe(1201);
    expect(thrown(() => config.update(['extra', 'x\ud800', 'deeper'], 1)).code).toBe(1301);
    expect(thrown(() => config.updateMany([{ path: ['extra', 'z\ud800'], value: 1 }])).code).toBe(1201);
    const checked = config.checkUpdate(['extra', 'w\ud800'], 1);
    expect(checked.ok ? 0 : checked.error.code).toBe(1201);
    expect(config.get()).toBe(before);
    // Security and the allow-list still come first.
    expect(thrown(() => config.update(['extra', 'x\ud800'], { __proto__: null, constructor: 1 })).code).toBe(5401);
    expect(thrown(() => config.update(['other', 'x\ud800'], 1)).code).toBe(1401);
    config.update(['extra', 'emoji \ud83d\ude00'], 1);
    expect(Object.keys(config.get('extra'))).toEqual(['emoji \ud83d\ude00']);
  });

  it('checks in the documented order: security, the allow-list, the parent, then plain data and the schema', () => {
    const config = makeConfig({ updatablePaths: ['telemetry', 'server.hosts'] });
    const before = config.get();
    const code = (path: string, value: unknown): number => thrown(() => config.update(path, value)).code;
    // A forbidden path is forbidden whatever the value, unless the value is unsafe.
    // eslint-disable-next-line no-sparse-arrays -- a hole is one of the plain-data problems
    for (const value of [Number.NaN, undefined, Number.POSITIVE_INFINITY, 10n, [1, , 3], { deep: { rate: Number.NaN } }]) {
      expect(code('server.port', value)).toBe(1401);
      const result = config.checkUpdate('server.port', value);
      expect(result.ok === false && result.error.code).toBe(1401);
    }
    expect(code('server.port', new Proxy({}, {}))).toBe(5401);
    // Security anywhere in the value comes before a plain-data problem earlier in it.
    expect(code('telemetry', { samplingRate: Number.NaN, extra: JSON.parse('{"__proto__": {"polluted": true}}') as unknown })).toBe(5401);
    expect(code('server.port', [undefined, () => 1])).toBe(5401);
    // The parent before plain data; plain data before the schema.
    expect(code('telemetry.batch.size', Number.NaN)).toBe(1301);
    expect(code('telemetry.samplingRate', Number.NaN)).toBe(1201);
    expect(config.get()).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses an update whose parent does not exist with 1301', () => {
    const config = makeConfig({ updatablePaths: ['telemetry', 'server.hosts'] });
    expect(thrown(() => config.update('telemetry.batch.size', 10)).code).toBe(1301);
    expect(thrown(() => config.update('telemetry.samplingRate.x', 10)).code).toBe(1301);
    expect(thrown(() => config.update('server.hosts.5', 'x')).code).toBe(1301);
    expect(thrown(() => config.update('server.hosts.x', 'x')).code).toBe(1301);
  });

  it('copies the value in, so changing the caller’s object afterwards changes nothing', () => {
    const config = makeConfig();
    const telemetry = { samplingRate: 0.5 };
    config.update('telemetry', telemetry);
    telemetry.samplingRate = 0.9;
    expect(config.get('telemetry.samplingRate')).toBe(0.5);
    expect(Object.isFrozen(telemetry)).toBe(false);
  });

  it('safeUpdate returns a result instead of throwing', () => {
    const config = makeConfig();
    expect(config.safeUpdate('dev.debugMode', true)).toEqual({ ok: true, value: true });
    const forbidden = config.safeUpdate('server.port', 1);
    expect(forbidden.ok).toBe(false);
    if (!forbidden.ok) expect(forbidden.error.code).toBe(1401);
    const invalid = config.safeUpdate('telemetry.samplingRate', 7);
    expect(invalid.ok === false && invalid.error.code).toBe(1203);
    const unsafe = config.safeUpdate(['__proto__', 'polluted'], true);
    expect(unsafe.ok === false && unsafe.error.code).toBe(5401);
    expect(config.get('dev.debugMode')).toBe(true);
  });

  it('checkUpdate runs every check and applies nothing', () => {
    const config = makeConfig();
    const listener = jest.fn();
    config.subscribe(listener);
    expect(config.checkUpdate('telemetry.samplingRate', 0.3)).toEqual({ ok: true, value: 0.3 });
    expect(config.get('telemetry.samplingRate')).toBe(1);
    const refused = config.checkUpdate('telemetry.samplingRate', 3);
    expect(refused.ok === false && refused.error.code).toBe(1203);
    expect(listener).not.toHaveBeenCalled();
    expect(config.status().updateCount).toBe(0);
  });

  it('keeps the validator’s output: transforms and schema defaults apply to updates', () => {
    const transforming = z.object({ name: z.string().trim().toLowerCase(), retries: z.number().default(3) });
    const config = createConfig({ defaults: { name: ' Alpha ' }, schema: transforming, updatablePaths: ['name'] });
    expect(config.get()).toEqual({ name: 'alpha', retries: 3 });
    expect(config.update('name', '  BETA')).toBe('beta');
  });

  it('applies a change whole when a transform returns a sparse array (review finding)', () => {
    // The path index read the holes and threw after the new tree was in place: get() and
    // get('list') disagreed, and nobody was told.
    const sparse = (count: number): number[] => {
      const list: number[] = [];
      if (count > 0) list[2] = count;
      return list;
    };
    const schema = z.object({ n: z.number(), list: z.number().transform(sparse) });
    const config = createConfig({ defaults: { n: 0, list: 5 }, schema, updatablePaths: ['list'] });
    expect(config.get('list.2')).toBe(5);
    const heard: unknown[] = [];
    config.subscribe((event) => heard.push(event.type));
    config.update('list', 7);
    expect(config.get('list')).toBe(config.get(['list']));
    expect(config.get('list.2')).toBe(7);
    expect(heard).toEqual(['config-updated']);
  });

  it('validate(candidate) checks a whole config without applying it (1.x validate/1)', () => {
    const config = makeConfig();
    const good = config.validate({ ...defaults, server: { port: 1, hosts: [] } });
    expect(good.ok).toBe(true);
    const bad = config.validate({ ...defaults, server: { port: 0, hosts: [] } });
    expect(bad.ok === false && bad.error.code).toBe(1203);
    const notObject = config.validate([1, 2]);
    expect(notObject.ok === false && notObject.error.code).toBe(1101);
    const unsafe = config.validate(JSON.parse('{"__proto__": {"polluted": true}}'));
    expect(unsafe.ok === false && unsafe.error.code).toBe(5401);
    expect(config.get('server.port')).toBe(4000);
  });
});

describe('reset', () => {
  it('drops runtime updates and returns to defaults < file < environment, notifying config-reset', () => {
    const config = createConfig({
      defaults,
      schema,
      updatablePaths: ['dev', 'telemetry'],
      sources: { environment: { prefix: 'APP', variables: { APP_TELEMETRY__SAMPLING_RATE: '0.5' } } },
    });
    const initial = config.get();
    const notifications: ConfigNotification<Settings>[] = [];
    config.subscribe((notification) => notifications.push(notification));
    config.update('dev.debugMode', true);
    config.update('telemetry.samplingRate', 0.1);
    expect(config.reset()).toBe(initial);
    expect(config.get()).toBe(initial);
    expect(config.get('telemetry.samplingRate')).toBe(0.5);
    expect(notifications.map((notification) => notification.type)).toEqual(['config-updated', 'config-updated', 'config-reset']);
    expect(notifications[2]).toEqual({ type: 'config-reset', config: initial });
    expect(config.status()).toMatchObject({ updateCount: 2, resetCount: 1 });
  });
});

describe('revert', () => {
  it('takes one path back to the layers and keeps every other runtime update', () => {
    const config = createConfig({
      defaults,
      schema,
      updatablePaths: ['dev', 'telemetry', 'server.hosts'],
      sources: { environment: { prefix: 'APP', variables: { APP_TELEMETRY__SAMPLING_RATE: '0.5' } } },
    });
    const notifications: ConfigNotification<Settings>[] = [];
    config.subscribe((notification) => notifications.push(notification));
    config.update('dev.debugMode', true);
    config.update('telemetry.samplingRate', 0.1);
    config.update('server.hosts', ['c.example']);

    expect(config.revert('telemetry.samplingRate')).toBe(0.5); // the environment's value, not the default
    expect(config.get()).toEqual({ dev: { debugMode: true, verboseLogging: false }, telemetry: { samplingRate: 0.5 }, server: { port: 4000, hosts: ['c.example'] } });
    expect(notifications.at(-1)).toEqual({ type: 'config-updated', path: ['telemetry', 'samplingRate'], value: 0.5, previous: 0.1, config: config.get() });
    expect(config.status()).toMatchObject({ updateCount: 4, resetCount: 0 });
    expect(Object.isFrozen(config.get('telemetry'))).toBe(true);
  });

  it('removes a key the layers do not have, and a whole object set over theirs goes back to theirs', () => {
    const config = createConfig({ defaults: { limits: { rate: 10 } }, updatablePaths: [[]] });
    config.update('limits', { rate: 20, burst: 5 });
    config.update('feature', { on: true });

    expect(config.revert('feature')).toBeUndefined();
    expect(config.get()).toEqual({ limits: { rate: 20, burst: 5 } });
    expect(config.revert('limits')).toEqual({ rate: 10 });
    expect(config.get()).toEqual({ limits: { rate: 10 } });
  });

  it('changes and tells nothing when the path holds the layers\' value, or nothing in either', () => {
    const config = makeConfig();
    const before = config.get();
    const notifications: ConfigNotification<Settings>[] = [];
    config.subscribe((notification) => notifications.push(notification));

    expect(config.revert('dev.debugMode')).toBe(false);
    expect(config.revert(['telemetry', 'exportUrl'])).toBeUndefined();
    config.update('dev.debugMode', true);
    expect(config.revert('dev.debugMode')).toBe(false);
    expect(config.revert('dev.debugMode')).toBe(false);

    expect(config.get()).toEqual(before);
    expect(notifications.map((notification) => (notification.type === 'config-updated' ? notification.value : notification.type))).toEqual([true, false]);
    expect(config.status().updateCount).toBe(2);
  });

  it('takes a path into an array back with its whole array, as arrays are whole values in the layering', () => {
    const config = makeConfig();
    const notifications: ConfigNotification<Settings>[] = [];
    config.subscribe((notification) => notifications.push(notification));
    config.update('server.hosts', ['x.example']);
    config.update('server.hosts.1', 'y.example');

    // Element 1 alone would give ['x.example', 'b.example'], an array no layer or update ever had.
    expect(config.revert('server.hosts.1')).toBe('b.example');
    expect(config.get('server.hosts')).toEqual(['a.example', 'b.example']);
    expect(notifications.at(-1)).toMatchObject({ type: 'config-updated', path: ['server', 'hosts'], value: ['a.example', 'b.example'], previous: ['x.example', 'y.example'] });
    config.update('server.hosts.2', 'c.example');
    expect(config.revert('server.hosts.2')).toBeUndefined();
    expect(config.get('server.hosts')).toEqual(['a.example', 'b.example']);

    // The array must be updatable itself: here only one element of it is.
    const narrow = makeConfig({ updatablePaths: ['server.hosts.0'] });
    narrow.update('server.hosts.0', 'z.example');
    expect(thrown(() => narrow.revert('server.hosts.0')).code).toBe(CONFIG_ERROR_CODES.updateForbidden);
  });

  it('takes the root path back with a reset', () => {
    const config = createConfig({ defaults: { a: 1 }, updatablePaths: [[]] });
    const kinds: string[] = [];
    config.subscribe((notification) => kinds.push(notification.type));
    config.update('a', 2);
    expect(config.revert([])).toEqual({ a: 1 });
    expect(kinds).toEqual(['config-updated', 'config-reset']);
    expect(config.status()).toMatchObject({ updateCount: 1, resetCount: 1 });
  });

  it('refuses the root path with 1401 when the root is not updatable, as update does (review finding)', () => {
    // It fell through to updateMany's refusal of a root revert: a TypeError, internal_error (2401) from safeRevert.
    const config = createConfig({ defaults: { a: 1 }, updatablePaths: ['a'] });
    config.update('a', 2);
    const error = thrown(() => config.revert([]));
    expect(error).toBeInstanceOf(ConfigUpdateForbiddenError);
    expect(error.code).toBe(CONFIG_ERROR_CODES.updateForbidden);
    expect(config.safeRevert([])).toMatchObject({ ok: false, error: { code: CONFIG_ERROR_CODES.updateForbidden } });
    expect(config.get()).toEqual({ a: 2 });
    expect(config.status().resetCount).toBe(0);
  });

  it('is checked like update: allow-list (1401), unsafe paths, missing parents (1301), the schema', () => {
    const config = makeConfig();
    expect(thrown(() => config.revert('server.port')).code).toBe(CONFIG_ERROR_CODES.updateForbidden);
    expect(thrown(() => config.revert('__proto__.polluted')).code).toBe(CONFIG_ERROR_CODES.securityViolation);
    // The layers have `telemetry.samplingRate`; an update replaced `telemetry` by an object without it.
    const open = createConfig({ defaults: { telemetry: { sampling: { rate: 1 } } }, updatablePaths: [[]] });
    open.update('telemetry', {});
    expect(thrown(() => open.revert('telemetry.sampling.rate'))).toBeInstanceOf(ConfigPathNotFoundError);
    expect(open.get()).toEqual({ telemetry: {} });

    // A schema that needs the runtime value: taking it away is refused whole.
    const strict = createConfig({
      defaults: { mode: 'plain' },
      schema: z.object({ mode: z.enum(['plain', 'tls']), cert: z.string().optional() }).refine((value) => value.mode !== 'tls' || value.cert !== undefined),
      updatablePaths: [[]],
    });
    strict.update([], { mode: 'tls', cert: 'pem' });
    expect(thrown(() => strict.revert('cert')).code).toBe(CONFIG_ERROR_CODES.invalidValue);
    expect(strict.safeRevert('cert')).toMatchObject({ ok: false });
    expect(strict.get()).toEqual({ mode: 'tls', cert: 'pem' });
    expect(strict.safeRevert([])).toEqual({ ok: true, value: { mode: 'plain' } });
  });

  it('refuses to run from inside the schema\'s validation (5405)', () => {
    const holder: { config?: Config<unknown> } = {};
    let inner: unknown;
    const reentrant: StandardSchemaV1<unknown, unknown> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => {
          if (holder.config !== undefined) inner = holder.config.safeRevert('a');
          return { value };
        },
      },
    };
    holder.config = createConfig({ defaults: { a: 1 }, schema: reentrant, updatablePaths: [[]] });
    holder.config.update('a', 2);
    expect((inner as { ok: false; error: FoundationError }).error).toBeInstanceOf(ConfigReentrantUpdateError);
  });
});

describe('updateMany', () => {
  /** `mode: tls` needs a `cert`: neither order of two single updates gets there from plain. */
  function makeStrict() {
    return createConfig({
      defaults: { mode: 'plain', cert: 'none', limits: { rate: 10, burst: 5 } },
      schema: z
        .object({ mode: z.enum(['plain', 'tls']), cert: z.string(), limits: z.object({ rate: z.number(), burst: z.number() }) })
        .refine((value) => (value.mode === 'tls') === (value.cert !== 'none'), { message: 'tls needs a cert, and only tls has one' }),
      updatablePaths: [[]],
    });
  }

  it('changes values that are only valid together, validating the end result once', () => {
    const config = makeStrict();
    expect(config.safeUpdate('mode', 'tls')).toMatchObject({ ok: false });
    expect(config.safeUpdate('cert', 'pem')).toMatchObject({ ok: false });
    const notifications: ConfigNotification<unknown>[] = [];
    config.subscribe((notification) => notifications.push(notification));

    const after = config.updateMany([
      { path: 'mode', value: 'tls' },
      { path: 'cert', value: 'pem' },
    ]);

    expect(after).toBe(config.get());
    expect(config.get()).toEqual({ mode: 'tls', cert: 'pem', limits: { rate: 10, burst: 5 } });
    expect(notifications).toEqual([
      { type: 'config-updated', path: ['mode'], value: 'tls', previous: 'plain', config: after },
      { type: 'config-updated', path: ['cert'], value: 'pem', previous: 'none', config: after },
    ]);
    expect(config.status().updateCount).toBe(2);
  });

  it('mixes reverts and values; each change is heard once, with its value before and after the whole batch', () => {
    const config = makeStrict();
    config.update('limits', { rate: 1, burst: 2 });
    const heard: string[] = [];
    config.subscribe((notification) => {
      if (notification.type === 'config-updated') heard.push(`${notification.path.join('.')} ${JSON.stringify(notification.previous)} -> ${JSON.stringify(notification.value)}`);
    });

    // `limits` back to the layers, then its rate set: nobody hears the rate at 10 on the way.
    config.updateMany([{ path: 'limits', revert: true }, { path: 'limits.rate', value: 30 }]);

    expect(config.get('limits')).toEqual({ rate: 30, burst: 5 });
    expect(heard).toEqual(['limits {"rate":1,"burst":2} -> {"rate":30,"burst":5}', 'limits.rate 1 -> 30']);
  });

  it('is all or nothing: one refused change leaves the config as it was and tells nobody', () => {
    const config = makeStrict();
    const before = config.get();
    const notifications: ConfigNotification<unknown>[] = [];
    config.subscribe((notification) => notifications.push(notification));

    const unsafe = config.safeUpdateMany([{ path: 'limits.rate', value: 20 }, { path: '__proto__.x', value: 1 }]);
    const invalid = config.safeUpdateMany([{ path: 'limits.rate', value: 20 }, { path: 'mode', value: 'tls' }]);
    const missingParent = config.safeUpdateMany([{ path: 'limits.rate', value: 20 }, { path: 'nowhere.deep', value: 1 }]);

    expect(unsafe).toMatchObject({ ok: false, error: { code: CONFIG_ERROR_CODES.securityViolation } });
    expect(invalid).toMatchObject({ ok: false, error: { code: CONFIG_ERROR_CODES.invalidValue } });
    expect(missingParent).toMatchObject({ ok: false, error: { code: CONFIG_ERROR_CODES.pathNotFound } });
    expect(config.get()).toBe(before);
    expect(notifications).toEqual([]);
    expect(config.status().updateCount).toBe(0);
    expect(thrown(() => makeConfig().updateMany([{ path: 'server.port', value: 1 }])).code).toBe(CONFIG_ERROR_CODES.updateForbidden);
    expect(() => config.updateMany('mode' as never)).toThrow(TypeError);
  });

  it('tells each path once with the batch\'s own values, even when a subscriber changes the config meanwhile', () => {
    const config = createConfig({ defaults: { a: 0, b: 0 }, updatablePaths: [[]] });
    const heard: string[] = [];
    config.subscribe((notification) => {
      if (notification.type !== 'config-updated') return;
      heard.push(`${notification.path.join('.')} ${String(notification.previous)} -> ${String(notification.value)}`);
      if (notification.path[0] === 'a') config.update('b', 99);
    });

    const returned = config.updateMany([{ path: 'a', value: 1 }, { path: 'b', value: 2 }, { path: 'b', value: 3 }, { path: 'a', revert: true }, { path: 'a', value: 1 }]);

    expect(returned).toEqual({ a: 1, b: 3 }); // as the batch left it
    expect(heard).toEqual(['a 0 -> 1', 'b 0 -> 3', 'b 3 -> 99']);
    expect(config.get()).toEqual({ a: 1, b: 99 });
    expect(config.status().updateCount).toBe(3);
  });

  it('tells apart paths whose keys join alike, such as a key holding a NUL (review finding)', () => {
    // Paths were told apart by their keys joined with NUL, so ['a\u0000b'] and ['a', 'b'] were
    // one path: the second change of the batch was applied but nobody heard of it.
    const config = createConfig({ defaults: { a: { b: 0 }, 'a\u0000b': 0 }, updatablePaths: [[]] });
    const heard: string[] = [];
    config.subscribe((notification) => {
      if (notification.type === 'config-updated') heard.push(`${JSON.stringify(notification.path)} ${String(notification.value)}`);
    });
    config.updateMany([
      { path: ['a\u0000b'], value: 1 },
      { path: ['a', 'b'], value: 2 },
    ]);
    expect(config.get()).toEqual({ a: { b: 2 }, 'a\u0000b': 1 });
    expect(heard).toEqual(['["a\\u0000b"] 1', '["a","b"] 2']);
    expect(config.status().updateCount).toBe(2);
  });

  it('refuses shapes that are neither { path, value } nor { path, revert: true }, and a root revert', () => {
    const config = makeStrict();
    for (const change of [{ path: 'mode', value: 'tls', revert: true }, { path: 'mode' }, { path: 'mode', revert: false }, { path: 'mode', revert: 'yes' }, null]) {
      expect(() => config.updateMany([change as never])).toThrow(TypeError);
    }
    expect(() => config.updateMany([{ path: [], revert: true }])).toThrow(/reset/);
    expect(config.status().updateCount).toBe(0);
  });

  it('takes { path, revert: true, value: undefined } as the revert its type says it is, as { path, value, revert: undefined } is a value', () => {
    // ConfigChange's revert form declares `value?: undefined`, so a change built field by field
    // (`{ path, revert: true, value: undefined }`) type-checks; it was refused as a TypeError.
    const config = makeStrict();
    config.update('limits', { rate: 1, burst: 2 });
    const changes: ConfigChange[] = [
      { path: 'limits', revert: true, value: undefined },
      { path: 'limits.burst', value: 7, revert: undefined },
    ];
    config.updateMany(changes);
    expect(config.get('limits')).toEqual({ rate: 10, burst: 7 });
  });

  it('copies each object a batch changes once, however many changes land in it (review finding)', () => {
    // Each change copied the whole object it landed in, so a batch of n changes in one section
    // cost n² (8,000 flags took 20 s, 16,000 took 88 s, holding the event loop); the composition
    // restores a Raft snapshot's values with one batch. Counted, not timed: the entries copied.
    const count = 2_000;
    const flags: Record<string, boolean> = {};
    for (let index = 0; index < count; index += 1) flags[`flag${index}`] = false;
    const config = createConfig({ defaults: { flags }, updatablePaths: ['flags'] });
    const heard: unknown[] = [];
    config.subscribe((notification) => void heard.push(notification.type === 'config-updated' ? notification.path : notification.type));
    const names = Object.keys(flags);
    let copied = copiedEntryCount();
    config.updateMany([...names.map((name) => ({ path: ['flags', name], value: true })), ...names.map((name) => ({ path: ['flags', `added${name}`], value: true }))]);
    // The root and flags, each once (n² would be millions).
    expect(copiedEntryCount() - copied).toBeLessThanOrEqual(count + 1);
    expect(Object.values(config.get('flags')).every((value) => value)).toBe(true);
    expect(Object.keys(config.get('flags'))).toHaveLength(2 * count);
    expect(heard).toHaveLength(2 * count);
    expect(heard[count]).toEqual(['flags', 'addedflag0']);
    // Taken back: the layers' values for their keys, and the added keys gone.
    copied = copiedEntryCount();
    config.updateMany(names.flatMap((name) => [{ path: ['flags', name], revert: true as const }, { path: ['flags', `added${name}`], revert: true as const }]));
    expect(copiedEntryCount() - copied).toBeLessThanOrEqual(2 * count + 1);
    expect(config.get('flags')).toEqual(flags);
    expect(heard).toHaveLength(4 * count);
    expect(Object.isFrozen(config.get('flags'))).toBe(true);
    // A batch's copies are its own: the snapshot before it is unchanged.
    const before = config.get();
    config.updateMany([{ path: ['flags', 'flag0'], value: true }, { path: ['flags', 'flag1'], value: true }]);
    expect(before.flags.flag0).toBe(false);
    expect(config.get('flags.flag1')).toBe(true);
  });

  it('tells nobody of an empty batch, reverts of what was never updated, or values set to what they were', () => {
    const config = makeStrict();
    const before = config.get();
    const notifications: ConfigNotification<unknown>[] = [];
    config.subscribe((notification) => notifications.push(notification));
    expect(config.updateMany([])).toBe(before);
    expect(config.updateMany([{ path: 'limits', revert: true }])).toBe(before);
    // A value set to what it already is changes nothing anyone reads: the snapshot stays the same object.
    config.updateMany([{ path: 'limits.rate', value: 10 }, { path: 'limits', value: { rate: 10, burst: 5 } }]);
    expect(config.get()).toBe(before);
    expect(notifications).toEqual([]);
    expect(config.status().updateCount).toBe(0);
  });
});

describe('what update and updateMany answer while subscribers change the config', () => {
  it('update returns the value it set, not what a subscriber set after it', () => {
    const config = createConfig({ defaults: { rate: 1 }, updatablePaths: [[]] });
    config.subscribe((notification) => {
      if (notification.type === 'config-updated' && (notification.value as number) > 100) config.update('rate', 100);
    });
    expect(config.update('rate', 1000)).toBe(1000);
    expect(config.get('rate')).toBe(100);
  });

  it('updateMany refuses to run from inside the schema\'s validation, even empty (5405)', () => {
    const holder: { config?: Config<unknown> } = {};
    const inner: unknown[] = [];
    const reentrant: StandardSchemaV1<unknown, unknown> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => {
          if (holder.config !== undefined) inner.push(holder.config.safeUpdateMany([]), holder.config.safeUpdateMany([{ path: 'a', value: 3 }]));
          return { value };
        },
      },
    };
    holder.config = createConfig({ defaults: { a: 1 }, schema: reentrant, updatablePaths: [[]] });
    holder.config.update('a', 2);
    expect(inner.map((result) => (result as { ok: false; error: FoundationError }).error)).toEqual([expect.any(ConfigReentrantUpdateError), expect.any(ConfigReentrantUpdateError)]);
  });
});

describe('subscriptions', () => {
  it('notifies config-updated with the path, the value and the previous value', () => {
    const config = makeConfig();
    const notifications: ConfigNotification<Settings>[] = [];
    const unsubscribe = config.subscribe((notification) => notifications.push(notification));
    config.update('telemetry.samplingRate', 0.5);
    config.update('telemetry.exportUrl', 'https://x.example');
    expect(notifications).toEqual([
      { type: 'config-updated', path: ['telemetry', 'samplingRate'], value: 0.5, previous: 1, config: expect.anything() },
      { type: 'config-updated', path: ['telemetry', 'exportUrl'], value: 'https://x.example', previous: undefined, config: config.get() },
    ]);
    expect(config.status().subscriberCount).toBe(1);
    unsubscribe();
    unsubscribe();
    config.update('telemetry.samplingRate', 0.25);
    expect(notifications).toHaveLength(2);
    expect(config.status().subscriberCount).toBe(0);
  });

  it('tells nobody of a value set to what it already is, through update, updateMany or revert alike (review finding)', () => {
    // update notified (and counted) a change to the same value, while updateMany told nobody of
    // it: a subscriber reacting to config-updated (a reconnect, a cache flush) ran for nothing.
    const config = createConfig({ defaults: { rate: 1, limits: { rate: 10, burst: 5 } }, updatablePaths: [[]] });
    const before = config.get();
    const heard: string[] = [];
    config.subscribe((notification) => void heard.push(notification.type === 'config-updated' ? `${notification.path.join('.')} ${JSON.stringify(notification.value)}` : notification.type));
    expect(config.update('rate', 1)).toBe(1);
    expect(config.update('limits', { rate: 10, burst: 5 })).toEqual({ rate: 10, burst: 5 });
    config.updateMany([{ path: 'rate', value: 1 }, { path: 'limits.burst', value: 5 }]);
    expect(config.get()).toBe(before);
    // Set away and back: the tree now holds a copy equal to the layers', which revert takes back unheard.
    config.update('limits.rate', 20);
    config.update('limits.rate', 10);
    expect(config.revert('limits')).toEqual({ rate: 10, burst: 5 });
    expect(heard).toEqual(['limits.rate 20', 'limits.rate 10']);
    expect(config.status().updateCount).toBe(2);
  });

  it('keeps an update or a revert that changes no value read now but changes what the schema derives from (review finding)', () => {
    // The schema fills a missing timeout from the default one, and caps it there. An update to the
    // value the schema already derived, or a revert whose layer value it derived the same, was
    // dropped as "no change": a later change of the default then showed through it.
    const derived = z
      .object({ defaultTimeoutMs: z.number(), timeoutMs: z.number().optional() })
      .transform((settings) => ({ ...settings, timeoutMs: Math.min(settings.timeoutMs ?? settings.defaultTimeoutMs, settings.defaultTimeoutMs) }));
    const pinned = createConfig({ defaults: { defaultTimeoutMs: 1000 }, schema: derived, updatablePaths: [[]] });
    const heard: string[] = [];
    pinned.subscribe((notification) => void heard.push(notification.type === 'config-updated' ? `${notification.path.join('.')} ${JSON.stringify(notification.value)}` : notification.type));
    // Pinned at what it reads now: nothing to tell, but the pin holds.
    expect(pinned.update('timeoutMs', 1000)).toBe(1000);
    expect(heard).toEqual([]);
    pinned.update('defaultTimeoutMs', 2000);
    expect(pinned.get('timeoutMs')).toBe(1000);

    const reverted = createConfig({ defaults: { defaultTimeoutMs: 1000, timeoutMs: 500 }, schema: derived, updatablePaths: [[]] });
    reverted.update('timeoutMs', 2000);
    reverted.update('defaultTimeoutMs', 400);
    expect(reverted.get('timeoutMs')).toBe(400);
    // Back to the layers' 500, which reads 400 under the lower default as 2000 did.
    expect(reverted.revert('timeoutMs')).toBe(400);
    reverted.update('defaultTimeoutMs', 1000);
    expect(reverted.get('timeoutMs')).toBe(500);
  });

  it('tells a listener that asks for writes each path a change wrote without changing what is served, in order with the changes, and nobody else', () => {
    // A party that keeps values of its own in the runtime updates (the cluster's, in the
    // meta-package) must hear another's revert or update of one even when what is served stays
    // the same: the value served there follows the other's from the next change on.
    const derived = z
      .object({ defaultTimeoutMs: z.number(), timeoutMs: z.number().optional(), mode: z.string() })
      .transform((settings) => ({ ...settings, timeoutMs: Math.min(settings.timeoutMs ?? settings.defaultTimeoutMs, settings.defaultTimeoutMs) }));
    const config = createConfig({ defaults: { defaultTimeoutMs: 1000, mode: 'a' }, schema: derived, updatablePaths: [[]] });
    const describe = (notification: ConfigNotification<unknown> | ConfigWrite<unknown>): string =>
      notification.type === 'config-reset' ? 'reset' : `${notification.type} ${notification.path.join('.')}${notification.type === 'config-updated' ? ` ${JSON.stringify(notification.value)}` : ''}`;
    const changes: string[] = [];
    const writes: string[] = [];
    config.subscribe((notification) => void changes.push(describe(notification)));
    config.subscribe((notification) => void writes.push(describe(notification)), { writes: true });

    config.update('timeoutMs', 1000); // what the schema derives already
    config.updateMany([
      { path: 'timeoutMs', revert: true },
      { path: 'mode', value: 'b' },
    ]);
    config.update('mode', 'b'); // the value already there: written nowhere
    config.update('defaultTimeoutMs', 2000);

    expect(changes).toEqual(['config-updated mode "b"', 'config-updated defaultTimeoutMs 2000']);
    expect(writes).toEqual(['config-written timeoutMs', 'config-written timeoutMs', 'config-updated mode "b"', 'config-updated defaultTimeoutMs 2000']);
    expect(config.get('timeoutMs')).toBe(2000); // reverted, it follows the default
    expect(config.status().updateCount).toBe(2);
  });

  it('tells subscribers when a transform\'s class instance changes, though its state is private (review finding)', () => {
    // A secret wrapper keeps its value in a private field, so that logging it shows nothing. Two
    // such wrappers look alike to a deep comparison, and rotating the password at runtime was
    // kept but told to nobody (and not counted): a subscriber that reconnects never did.
    class Secret {
      readonly #value: string;
      constructor(value: string) {
        this.#value = value;
      }
      reveal(): string {
        return this.#value;
      }
    }
    const secrets = z.object({ database: z.object({ password: z.string().transform((text) => new Secret(text)) }) });
    const config = createConfig({ defaults: { database: { password: 'first' } }, schema: secrets, updatablePaths: ['database'] });
    const heard: string[] = [];
    config.subscribe((notification) => {
      if (notification.type === 'config-updated') heard.push(`${notification.path.join('.')} ${(notification.previous as Secret).reveal()} -> ${(notification.value as Secret).reveal()}`);
    });
    config.update('database.password', 'second');
    config.updateMany([{ path: 'database.password', value: 'third' }]);
    config.revert('database.password');
    expect(heard).toEqual(['database.password first -> second', 'database.password second -> third', 'database.password third -> first']);
    expect(config.status().updateCount).toBe(3);
    // The value already there, written again, is still no change, though the schema builds a new wrapper.
    const served = config.get('database.password');
    config.update('database.password', 'first');
    config.update('database', { password: 'first' });
    expect(heard).toHaveLength(3);
    expect(config.get('database.password')).toBe(served);
  });

  it('tells subscribers of a change beneath an object the schema transforms, where no path is served (review finding)', () => {
    // Paths stop at an object a transform returns, and a reshaping transform serves other keys
    // than the ones written: the value at the updated path was "nothing" before and after, so the
    // change was applied but told to nobody, though the object served above it had changed.
    class Endpoint {
      constructor(
        readonly host: string,
        readonly port: number,
      ) {}
    }
    const shaped = z.object({
      endpoint: z.object({ host: z.string(), port: z.number() }).transform((endpoint) => new Endpoint(endpoint.host, endpoint.port)),
      server: z.object({ port: z.number() }).transform((server) => ({ listenPort: server.port })),
      limits: z.object({ rate: z.number() }),
    });
    const config = createConfig({
      defaults: { endpoint: { host: 'a.example', port: 80 }, server: { port: 1 }, limits: { rate: 1 } },
      schema: shaped,
      updatablePaths: [[]],
    });
    const heard: unknown[] = [];
    config.subscribe((notification) => void heard.push(notification.type === 'config-updated' ? [notification.path.join('.'), notification.previous, notification.value] : notification.type));
    config.update('endpoint.port', 81);
    config.updateMany([{ path: 'server.port', value: 2 }]);
    config.revert('endpoint.port');
    expect(heard).toEqual([
      ['endpoint.port', undefined, undefined],
      ['server.port', undefined, undefined],
      ['endpoint.port', undefined, undefined],
    ]);
    expect(config.get('server')).toEqual({ listenPort: 2 });
    expect(config.status().updateCount).toBe(3);
    // A key the schema drops changes nothing served: it is kept and told to nobody.
    config.update('limits.burst', 5);
    expect(heard).toHaveLength(3);
  });

  it('sends nothing for a refused update', () => {
    const config = makeConfig();
    const listener = jest.fn();
    config.subscribe(listener);
    config.safeUpdate('telemetry.samplingRate', 5);
    config.safeUpdate('server.port', 5);
    config.safeUpdate('constructor.prototype.x', 5);
    expect(listener).not.toHaveBeenCalled();
  });

  it('isolates and reports a throwing subscriber; the others and the updater are unaffected', () => {
    const reported: ConfigSubscriberError[] = [];
    const config = makeConfig({ onSubscriberError: (error) => reported.push(error) });
    const before = jest.fn();
    const after = jest.fn();
    config.subscribe(before);
    config.subscribe(() => {
      throw new Error('subscriber bug');
    });
    config.subscribe(after);
    expect(config.update('dev.debugMode', true)).toBe(true);
    expect(before).toHaveBeenCalledTimes(1);
    expect(after).toHaveBeenCalledTimes(1);
    expect(reported).toHaveLength(1);
    expect(reported[0]!.code).toBe(5404);
    expect(reported[0]!.type).toBe('config_subscriber_failed');
    expect(reported[0]!.notification).toBe('config-updated');
    expect((reported[0]!.cause as Error).message).toBe('subscriber bug');
    expect(config.status().subscriberFailures).toBe(1);
    // The failing subscriber stays subscribed and keeps being isolated.
    config.update('dev.debugMode', false);
    expect(reported).toHaveLength(2);
  });

  it('reports a subscriber whose promise rejects', async () => {
    const reported: ConfigSubscriberError[] = [];
    const config = makeConfig({ onSubscriberError: (error) => reported.push(error) });
    config.subscribe(async () => {
      await Promise.resolve();
      throw new Error('async bug');
    });
    config.update('dev.debugMode', true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(reported.map((error) => (error.cause as Error).message)).toEqual(['async bug']);
  });

  it('reports a subscriber that throws a value that cannot be turned into text (review finding)', () => {
    // Describing such a value threw inside the reporting, which dropped the report: the failure
    // was counted in status() but onSubscriberError never heard of it.
    const reported: ConfigSubscriberError[] = [];
    const config = makeConfig({ onSubscriberError: (error) => reported.push(error) });
    const bare: unknown = Object.create(null);
    const unprintable = {
      toString(): string {
        throw new Error('no text');
      },
    };
    const hiddenMessage = new Error('hidden');
    Object.defineProperty(hiddenMessage, 'message', {
      get(): string {
        throw new Error('no message');
      },
    });
    const thrownValues = [bare, unprintable, hiddenMessage];
    for (const value of thrownValues) {
      config.subscribe(() => {
        throw value;
      });
    }
    config.update('dev.debugMode', true);
    expect(config.status().subscriberFailures).toBe(3);
    expect(reported.map((error) => error.code)).toEqual([5404, 5404, 5404]);
    // Compared by identity: the values themselves refuse to be printed.
    expect(reported.every((error, position) => error.cause === thrownValues[position])).toBe(true);
  });

  it('reports through process.emitWarning by default, and survives a reporter that throws', () => {
    const warnings: unknown[] = [];
    const spy = jest.spyOn(process, 'emitWarning').mockImplementation((warning) => void warnings.push(warning));
    try {
      const config = createConfig({ defaults: { a: 1 }, updatablePaths: ['a'] });
      config.subscribe(() => {
        throw new Error('boom');
      });
      config.update('a', 2);
      expect(warnings).toHaveLength(1);
      expect((warnings[0] as FoundationError).code).toBe(5404);
    } finally {
      spy.mockRestore();
    }
    const throwingReporter = createConfig({
      defaults: { a: 1 },
      updatablePaths: ['a'],
      onSubscriberError: () => {
        throw new Error('reporter bug');
      },
    });
    throwingReporter.subscribe(() => {
      throw new Error('boom');
    });
    expect(throwingReporter.update('a', 3)).toBe(3);
  });

  it('delivers updates made from inside a subscriber after the current one, so every subscriber sees the same order', () => {
    const config = createConfig({ defaults: { step: 0 }, updatablePaths: ['step'] });
    const seenByFirst: number[] = [];
    const seenBySecond: number[] = [];
    config.subscribe((notification) => {
      if (notification.type !== 'config-updated') return;
      seenByFirst.push(notification.value as number);
      if ((notification.value as number) < 3) config.update('step', (notification.value as number) + 1);
    });
    config.subscribe((notification) => {
      if (notification.type === 'config-updated') seenBySecond.push(notification.value as number);
    });
    config.update('step', 1);
    expect(seenByFirst).toEqual([1, 2, 3]);
    expect(seenBySecond).toEqual([1, 2, 3]);
    expect(config.get('step')).toBe(3);
  });

  it('a subscriber added during delivery gets later changes only; one removed during delivery gets nothing more', () => {
    const config = createConfig({ defaults: { n: 0 }, updatablePaths: ['n'] });
    const late = jest.fn();
    let removeSecond: () => void = () => undefined;
    config.subscribe(() => {
      config.subscribe(late);
      removeSecond();
    });
    const second = jest.fn();
    removeSecond = config.subscribe(second);
    config.update('n', 1);
    expect(second).not.toHaveBeenCalled();
    expect(late).not.toHaveBeenCalled();
    config.update('n', 2);
    expect(late).toHaveBeenCalledTimes(1);
  });

  it('a subscriber added while a batch is delivered hears none of that batch, only changes made after it subscribed (review finding)', () => {
    // The batch's changes were all made before the subscription, and are still being delivered
    // when it is made: it once heard the rest of them (core's publisher now numbers messages).
    for (const many of ['updateMany', 'safeUpdateMany'] as const) {
      const config = createConfig({ defaults: { a: 0, b: 0, c: 0, d: 0 }, updatablePaths: [[]] });
      const heardByLate: string[] = [];
      const heardBySecond: string[] = [];
      let removeSecond: () => void = () => undefined;
      let subscribed = false;
      config.subscribe((notification) => {
        if (subscribed || notification.type !== 'config-updated' || notification.path[0] !== 'a') return;
        subscribed = true;
        config.update('c', 1); // made before the subscription: not for the late one
        config.subscribe((late) => void heardByLate.push(late.type === 'config-updated' ? late.path.join('.') : late.type));
        removeSecond();
        config.update('d', 1); // made after it: heard
      });
      removeSecond = config.subscribe((notification) => void heardBySecond.push(notification.type === 'config-updated' ? notification.path.join('.') : notification.type));
      config[many]([
        { path: 'a', value: 1 },
        { path: 'b', value: 1 },
      ]);
      expect(config.get()).toEqual({ a: 1, b: 1, c: 1, d: 1 });
      expect(heardByLate).toEqual(['d']);
      // The opposite: removed while the batch's first change was delivered, it hears nothing more.
      expect(heardBySecond).toEqual([]);
      config.update('a', 2);
      expect(heardByLate).toEqual(['d', 'a']);
      config.reset();
      expect(heardByLate).toEqual(['d', 'a', 'config-reset']);
      expect(heardBySecond).toEqual([]);
    }
  });

  it('every notification’s previous value is the value of the one before: concurrent async updaters interleave without loss (seed=7)', async () => {
    const simulation = createSimulation({ seed: 7 });
    const config = createConfig({ defaults: { counters: { a: 0, b: 0 } }, updatablePaths: ['counters'] });
    const history: { path: string; value: number; previous: number }[] = [];
    config.subscribe((notification) => {
      if (notification.type === 'config-updated') {
        history.push({ path: notification.path.join('.'), value: notification.value as number, previous: notification.previous as number });
      }
    });
    // 20 clients, each incrementing a counter 25 times, yielding to the others between reads and writes.
    const clients = Array.from({ length: 20 }, async (_, client) => {
      const key = client % 2 === 0 ? 'a' : 'b';
      for (let round = 0; round < 25; round += 1) {
        await new Promise<void>((resolve) => simulation.schedule(simulation.random.int(0, 5), resolve));
        config.update(`counters.${key}`, config.get(`counters.${key}`) + 1);
      }
    });
    await simulation.runUntilAsync(() => config.status().updateCount === 500, { maxTime: 10_000 });
    await Promise.all(clients);
    expect(config.get('counters')).toEqual({ a: 250, b: 250 });
    for (const key of ['counters.a', 'counters.b']) {
      const values = history.filter((entry) => entry.path === key);
      expect(values).toHaveLength(250);
      values.forEach((entry, position) => {
        expect(entry.previous).toBe(position);
        expect(entry.value).toBe(position + 1);
      });
    }
  });
});

describe('schemas', () => {
  it('accepts any Standard Schema v1 validator, not only zod', () => {
    const handwritten: StandardSchemaV1<unknown, { level: number }> = {
      '~standard': {
        version: 1,
        vendor: 'handwritten',
        validate: (value) => {
          const level = (value as { level?: unknown }).level;
          return typeof level === 'number' && level <= 3
            ? { value: { level } }
            : { issues: [{ message: 'level must be a number up to 3', path: [{ key: 'level' }] }] };
        },
      },
    };
    const config = createConfig({ defaults: { level: 1 }, schema: handwritten, updatablePaths: ['level'] });
    expect(config.update('level', 2)).toBe(2);
    const error = thrown(() => config.update('level', 9));
    expect(error.code).toBe(1201);
    expect(error.message).toContain('level must be a number up to 3');
  });

  it('refuses a schema that is not Standard Schema v1, or one that validates asynchronously (5403)', () => {
    for (const bad of [{}, { '~standard': { version: 2, validate: () => ({ value: {} }) } }, { '~standard': { version: 1 } }, 42]) {
      const error = thrown(() => createConfig({ defaults: { a: 1 }, schema: bad as never }));
      expect(error).toBeInstanceOf(ConfigSchemaError);
      expect(error.code).toBe(5403);
    }
    const asynchronous = z.object({ a: z.number() }).refine(async () => true);
    const error = thrown(() => createConfig({ defaults: { a: 1 }, schema: asynchronous }));
    expect(error).toBeInstanceOf(ConfigSchemaError);
    expect(error.message).toMatch(/asynchronously/);
  });

  it('turns a validator that throws into a validation error with the cause kept', () => {
    const throwing: StandardSchemaV1<unknown, { a: number }> = {
      '~standard': {
        version: 1,
        vendor: 'throwing',
        validate: (value) => {
          if ((value as { a: number }).a === 13) throw new Error('unlucky');
          return { value: value as { a: number } };
        },
      },
    };
    const config = createConfig({ defaults: { a: 1 }, schema: throwing, updatablePaths: ['a'] });
    const error = thrown(() => config.update('a', 13));
    expect(error.code).toBe(1201);
    expect((error.cause as Error).message).toBe('unlucky');
    expect(config.get('a')).toBe(1);
  });

  it('refuses updates from inside the validator (5405) and keeps the config consistent', () => {
    const holder: { config?: Config<{ a: number }> } = {};
    const inner: unknown[] = [];
    const meddling: StandardSchemaV1<unknown, { a: number }> = {
      '~standard': {
        version: 1,
        vendor: 'meddling',
        validate: (value) => {
          if (holder.config !== undefined) {
            inner.push(holder.config.safeUpdate('a', 99));
            try {
              holder.config.reset();
            } catch (error) {
              inner.push(error);
            }
          }
          return { value: value as { a: number } };
        },
      },
    };
    const config = createConfig({ defaults: { a: 1 }, schema: meddling, updatablePaths: ['a'] });
    holder.config = config;
    expect(config.update('a', 2)).toBe(2);
    expect(inner[0]).toMatchObject({ ok: false, error: expect.any(ConfigReentrantUpdateError) });
    expect(inner[1]).toBeInstanceOf(ConfigReentrantUpdateError);
    expect((inner[1] as FoundationError).code).toBe(5405);
    expect(config.get('a')).toBe(2);
    expect(config.status().updateCount).toBe(1);
  });

  it('fails creation with the validator’s message when the layered config is invalid', () => {
    const error = thrown(() => createConfig({ defaults: { ...defaults, server: { port: 70_000, hosts: [] } }, schema }));
    expect(error.code).toBe(1203);
    expect(error.message).toContain('server.port');
  });

  it('refuses defaults that are not a plain object (1101)', () => {
    for (const bad of [null, [1], 'x', new Map()]) {
      const error = thrown(() => createConfig({ defaults: bad as never }));
      expect(error).toBeInstanceOf(ConfigStructureError);
      expect(error.code).toBe(1101);
    }
  });

  it('freezes the plain data it serves and never an object a transform returns', () => {
    class Pool {
      size = 0;
      grow(): number {
        return (this.size += 1);
      }
    }
    const pool = new Pool();
    const presets = { small: { workers: 2, tags: ['a'] } };
    const transforming = z.object({
      pool: z.literal('shared').transform(() => pool),
      preset: z.literal('small').transform((name) => presets[name]),
      key: z.string().transform((text) => Buffer.from(text)),
      started: z.string().transform((text) => new Date(text)),
      limits: z.record(z.string(), z.number()).transform((entries) => new Map(Object.entries(entries))),
      server: z.object({ port: z.number(), hosts: z.array(z.string()) }),
    });
    const config = createConfig({
      defaults: { pool: 'shared', preset: 'small', key: 'abc', started: '2020-01-01T00:00:00Z', limits: { a: 1 }, server: { port: 1, hosts: ['h'] } },
      schema: transforming,
      updatablePaths: ['server.port', 'key'],
    });
    const whole = config.get();
    // The transform's objects are served as returned, and stay the application's to use.
    expect(whole.pool).toBe(pool);
    expect(Object.isFrozen(pool)).toBe(false);
    expect(pool.grow()).toBe(1);
    const key = whole.key as unknown as Buffer; // typed deeply read-only, as all of get()'s values
    expect(Object.isFrozen(key)).toBe(false);
    key[0] = 0x7a;
    expect(config.get('key').toString()).toBe('zbc');
    expect(Object.isFrozen(whole.started)).toBe(false);
    expect(Object.isFrozen(whole.limits)).toBe(false);
    expect(whole.limits.get('a')).toBe(1);
    // A plain object a transform returns is served as a frozen copy; the application's is untouched.
    expect(whole.preset).toEqual({ workers: 2, tags: ['a'] });
    expect(whole.preset).not.toBe(presets.small);
    expect(Object.isFrozen(whole.preset) && Object.isFrozen(whole.preset.tags)).toBe(true);
    expect(Object.isFrozen(presets.small) || Object.isFrozen(presets.small.tags)).toBe(false);
    presets.small.workers = 8;
    expect(config.get('preset.workers')).toBe(2);
    // Everything else is still deeply frozen.
    expect(Object.isFrozen(whole) && Object.isFrozen(whole.server) && Object.isFrozen(whole.server.hosts)).toBe(true);
    // The same holds after an update, and for checkUpdate and validate.
    config.update('server.port', 2);
    expect(config.get('pool')).toBe(pool);
    expect(Object.isFrozen(pool) || Object.isFrozen(presets.small)).toBe(false);
    const checked = config.checkUpdate('key', 'xyz');
    expect(checked.ok && Buffer.isBuffer(checked.value) && !Object.isFrozen(checked.value)).toBe(true);
    const validated = config.validate({ ...config.get(), pool: 'shared', preset: 'small', key: 'k', started: '2021-01-01T00:00:00Z', limits: {} });
    expect(validated.ok && validated.value.pool === pool && !Object.isFrozen(pool) && Object.isFrozen(validated.value.server)).toBe(true);
    expect(Object.isFrozen(presets.small)).toBe(false);
  });

  it('stops every path at an object a transform returns, array paths as dotted ones (review finding)', () => {
    // An array path walked into such an object's own properties (a class instance's fields, a
    // Buffer's bytes) where the dotted path stopped: get(['pool', 'size']) answered and
    // get('pool.size') threw 1301, and getWithDefault answered differently for the two.
    class Pool {
      size = 3;
    }
    const config = createConfig({
      defaults: { pool: 'shared', key: 'abc' },
      schema: z.object({ pool: z.literal('shared').transform(() => new Pool()), key: z.string().transform((text) => Buffer.from(text)) }),
    });
    for (const [dotted, array] of [
      ['pool.size', ['pool', 'size']],
      ['key.0', ['key', 0]],
      ['key.0', ['key', '0']],
    ] as const) {
      expect(thrown(() => config.get(dotted))).toBeInstanceOf(ConfigPathNotFoundError);
      expect(thrown(() => config.get(array))).toBeInstanceOf(ConfigPathNotFoundError);
      expect(config.getWithDefault(dotted, 'none')).toBe('none');
      expect(config.getWithDefault(array, 'none')).toBe('none');
    }
    expect(config.get(['pool'])).toBeInstanceOf(Pool);
  });

  it('reads no key a transform returns that is longer than a path may name, as no path can update or allow it (review finding)', () => {
    // Keys from the sources longer than a path segment may be are refused as they come in, but a
    // transform can still return one: get served it through the path index and the array-path
    // walk, while parsePath refused the same path for update, revert and isUpdatable.
    const long = 'K'.repeat(1025);
    const longest = 'K'.repeat(1024);
    const reshaped = z.object({ limits: z.object({ rate: z.number() }).transform((limits) => ({ [long]: limits.rate, [longest]: limits.rate + 1 })) });
    const config = createConfig({ defaults: { limits: { rate: 1 } }, schema: reshaped, updatablePaths: ['limits'] });
    for (const path of [`limits.${long}`, ['limits', long]]) {
      expect(thrown(() => config.get(path))).toBeInstanceOf(ConfigPathError);
      expect(thrown(() => config.getWithDefault(path, 0))).toBeInstanceOf(ConfigPathError);
      expect(thrown(() => config.isUpdatable(path))).toBeInstanceOf(ConfigPathError);
    }
    // As other keys no path can name, it is still part of the whole config.
    expect((config.get() as { limits: Record<string, number> }).limits[long]).toBe(1);
    // The longest key a path may name is served by both forms of path.
    expect(config.get(`limits.${longest}`)).toBe(2);
    expect(config.get(['limits', longest])).toBe(2);
    expect(config.getWithDefault(['limits', longest], 0)).toBe(2);
  });

  it('serves a plain transform output with shared parts and cycles as one frozen copy', () => {
    const shared = { level: 1 };
    const looped: { name: string; self?: unknown; a?: unknown; b?: unknown } = { name: 'loop', a: shared, b: shared };
    looped.self = looped;
    const config = createConfig({ defaults: { graph: 'x' }, schema: z.object({ graph: z.string().transform(() => looped) }) });
    const graph = config.get('graph') as typeof looped;
    expect(graph).not.toBe(looped);
    expect(graph.self).toBe(graph);
    expect(graph.a).toBe(graph.b);
    expect(Object.isFrozen(graph) && Object.isFrozen(graph.a)).toBe(true);
    expect(Object.isFrozen(looped) || Object.isFrozen(shared)).toBe(false);
  });
});

describe('status', () => {
  it('reports uptime from the injected clock, counts, subscribers and the namespace', () => {
    const simulation = createSimulation({ seed: 3 });
    const config = createConfig({ defaults: { a: 1 }, updatablePaths: ['a'], clock: simulation.clock, namespace: 'test-1' });
    simulation.runFor(1500);
    config.subscribe(() => undefined);
    config.update('a', 2);
    expect(config.status()).toEqual({
      namespace: 'test-1',
      uptimeMs: 1500,
      updateCount: 1,
      resetCount: 0,
      subscriberCount: 1,
      subscriberFailures: 0,
      lastChangeAt: simulation.clock.now(),
      updatablePaths: [['a']],
    });
    expect(config.namespace).toBe('test-1');
  });
});
