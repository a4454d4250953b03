import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FoundationError } from '@foundation/core';
import { z } from 'zod';
import { createConfig } from '../config';
import { ConfigSourceError } from '../errors/config-source-error';
import { ConfigStructureError } from '../errors/config-structure-error';
import { ConfigValidationError } from '../errors/config-validation-error';
import { parseVariableValue } from './environment';

let directory: string;
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'foundation-config-'));
});
afterEach(() => rmSync(directory, { recursive: true, force: true }));

function writeJson(name: string, content: unknown): string {
  const file = join(directory, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
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

const schema = z.object({
  dev: z.object({ debugMode: z.boolean(), logLevel: z.enum(['debug', 'info', 'warn']) }),
  server: z.object({ port: z.number().int().min(1).max(65_535), host: z.string(), tags: z.array(z.string()) }),
  limits: z.record(z.string(), z.number()).optional(),
});
const defaults = { dev: { debugMode: false, logLevel: 'info' as const }, server: { port: 4000, host: 'localhost', tags: ['a'] } };

describe('layering: defaults < JSON file < environment < runtime updates', () => {
  it('each layer overrides the one below, objects merging key by key and arrays replacing', () => {
    const file = writeJson('config.json', { dev: { logLevel: 'warn' }, server: { port: 5000, tags: ['b', 'c'] } });
    const config = createConfig({
      defaults,
      schema,
      updatablePaths: ['server.port'],
      sources: { file, environment: { prefix: 'FOUNDATION', variables: { FOUNDATION_SERVER__PORT: '6000', FOUNDATION_DEV__DEBUG_MODE: 'true' } } },
    });
    expect(config.get()).toEqual({ dev: { debugMode: true, logLevel: 'warn' }, server: { port: 6000, host: 'localhost', tags: ['b', 'c'] } });
    config.update('server.port', 7000);
    expect(config.get('server.port')).toBe(7000);
    config.reset();
    expect(config.get('server.port')).toBe(6000);
  });

  it('refuses a variable whose name or text holds a lone surrogate with 1201, naming the variable, as its JSON is (review finding)', () => {
    // A Windows environment can hold one (names and values are UTF-16 there), as can the
    // variables option: JSON text was checked, but a name became a key, and plain text a value,
    // as they were.
    const refusal = (variables: Record<string, string>): ConfigValidationError => {
      const error = thrown(() => createConfig({ defaults, schema, sources: { environment: { prefix: 'F', variables } } }));
      expect(error).toBeInstanceOf(ConfigValidationError);
      return error as ConfigValidationError;
    };
    expect(refusal({ F_SERVER__HOST: 'cut \ud83d' }).message).toContain('environment variable F_SERVER__HOST');
    expect(refusal({ 'F_LIMITS__K\ud800': '1' }).message).toContain('environment variable F_LIMITS__K');
    expect(refusal({ F_LIMITS: '{"k\\ud800": 1}' }).code).toBe(1201);
    const config = createConfig({ defaults, schema, sources: { environment: { prefix: 'F', variables: { F_SERVER__HOST: 'emoji \ud83d\ude00' } } } });
    expect(config.get('server.host')).toBe('emoji \ud83d\ude00');
  });

  it('merges a variable holding a JSON object key by key with the layers below, as the file merges (review finding)', () => {
    // "Plain objects merge key by key (defaults < file < environment)": a variable whose value
    // was a JSON object replaced the whole object at its path, so FOUNDATION_SERVER='{"port":
    // 6000}' took away the host the defaults gave and the tags the file gave.
    const file = writeJson('merge.json', { dev: { logLevel: 'warn' }, server: { port: 5000, tags: ['b', 'c'] } });
    const config = createConfig({
      defaults,
      schema,
      sources: { file, environment: { prefix: 'FOUNDATION', variables: { FOUNDATION_SERVER: '{"port": 6000}', FOUNDATION_DEV: '{"debugMode": true}' } } },
    });
    expect(config.get()).toEqual({ dev: { debugMode: true, logLevel: 'warn' }, server: { port: 6000, host: 'localhost', tags: ['b', 'c'] } });
    // Arrays inside the object still replace, and a deeper variable still goes over it.
    const deeper = createConfig({
      defaults,
      schema,
      sources: { file, environment: { prefix: 'F', variables: { F_SERVER: '{"tags": ["x"], "host": "h"}', F_SERVER__HOST: 'deep' } } },
    });
    expect(deeper.get('server')).toEqual({ port: 5000, host: 'deep', tags: ['x'] });
    // So a variable cannot take keys away: an empty object leaves the object below it whole.
    const emptied = createConfig({ defaults, schema, sources: { file, environment: { prefix: 'F', variables: { F_SERVER: '{}' } } } });
    expect(emptied.get('server')).toEqual({ port: 5000, host: 'localhost', tags: ['b', 'c'] });
    // A value a variable's object left alone is not blamed on it.
    const blamed = thrown(() => createConfig({ defaults, schema, sources: { file: writeJson('bad-port.json', { server: { port: 0 } }), environment: { prefix: 'F', variables: { F_SERVER: '{"host": "h"}' } } } }));
    expect(blamed.context).toMatchObject({ origins: [expect.stringContaining('bad-port.json')] });
  });
});

describe('the JSON file', () => {
  it('accepts a { path } object and a byte-order mark', () => {
    const file = writeJson('bom.json', `\ufeff${JSON.stringify({ server: { host: 'example.org' } })}`);
    expect(createConfig({ defaults, schema, sources: { file: { path: file } } }).get('server.host')).toBe('example.org');
  });

  it('a missing file is an error (5402) unless optional', () => {
    const missing = join(directory, 'nope.json');
    const error = thrown(() => createConfig({ defaults, sources: { file: missing } }));
    expect(error).toBeInstanceOf(ConfigSourceError);
    expect(error.code).toBe(5402);
    expect(error.message).toContain(missing);
    expect(createConfig({ defaults, sources: { file: { path: missing, optional: true } } }).get()).toEqual(defaults);
  });

  it('refuses malformed JSON (5402) saying where, and a root that is not an object (1101)', () => {
    const malformed = writeJson('bad.json', '{"server": ');
    const error = thrown(() => createConfig({ defaults, sources: { file: malformed } }));
    expect(error.code).toBe(5402);
    expect(error.message).toMatch(/not valid JSON at line 1, column 12: the text ends before the JSON value is complete$/);
    for (const root of ['[1, 2]', '"text"', 'null', '3']) {
      const structure = thrown(() => createConfig({ defaults, sources: { file: writeJson('root.json', root) } }));
      expect(structure).toBeInstanceOf(ConfigStructureError);
      expect(structure.code).toBe(1101);
    }
  });

  it('refuses a file larger than maxBytes without reading it whole', () => {
    const big = writeJson('big.json', { blob: 'x'.repeat(5000) });
    const error = thrown(() => createConfig({ defaults, sources: { file: { path: big, maxBytes: 1000 } } }));
    expect(error.code).toBe(5402);
    expect(error.message).toMatch(/more than the 1000/);
  });

  it('reads a file whose size says nothing of its contents, such as a FIFO (review finding)', () => {
    // fstat gives a FIFO (or /dev/fd/N from a shell's process substitution) size 0; the reader
    // filled a one-byte buffer and stopped, so valid JSON read as "not valid JSON".
    const fifo = join(directory, 'config.fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `printf '%s' '{"server": {"port": 5050, "host": "fifo"}}' > "${fifo}"`], { stdio: 'ignore' });
    try {
      const config = createConfig({ defaults, sources: { file: { path: fifo, maxBytes: 10_000 } } });
      expect(config.get('server')).toEqual({ port: 5050, host: 'fifo', tags: ['a'] });
    } finally {
      writer.kill();
    }
  });

  it('refuses a file that is not UTF-8 (5402) saying where, quoting none of it, rather than holding U+FFFD for its bytes', () => {
    // "café" saved as Latin-1: the byte 0xe9 is no UTF-8, and was read as U+FFFD, so a password
    // or name in the file silently became another one.
    const file = join(directory, 'latin1.json');
    writeFileSync(file, Buffer.concat([Buffer.from('{\n  "server": {"host": "caf'), Buffer.from([0xe9]), Buffer.from('"}\n}\n')]));
    const error = thrown(() => createConfig({ defaults, sources: { file } }));
    expect(error).toBeInstanceOf(ConfigSourceError);
    expect(error.code).toBe(5402);
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/is not UTF-8 text at line 2, column 26/);
    expect(error.message).not.toContain('caf');
    // U+FFFD written as UTF-8 is text like any other.
    const replacement = writeJson('replacement.json', { server: { host: 'caf\ufffd' } });
    expect(createConfig({ defaults, sources: { file: replacement } }).get('server.host')).toBe('caf\ufffd');
  });

  it('refuses a directory with a read error (5402)', () => {
    const error = thrown(() => createConfig({ defaults, sources: { file: directory } }));
    expect(error.code).toBe(5402);
  });

  it('names the file when its values fail validation', () => {
    const file = writeJson('invalid.json', { server: { port: 'eighty' } });
    const error = thrown(() => createConfig({ defaults, schema, sources: { file } }));
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect(error.message).toContain('server.port');
    expect(error.message).toContain(file);
  });

  it('refuses a key longer than a config path may name (1201), naming the file, since no path could set or watch it (review finding)', () => {
    // get('limits.KKK…') served such a key through the path index, while parsePath refused the
    // same path for update, revert, isUpdatable and everything else: readable, never settable.
    const long = 'K'.repeat(1025);
    const file = writeJson('long-key.json', { limits: { [long]: 1 } });
    const error = thrown(() => createConfig({ defaults, schema, sources: { file } }));
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect(error.code).toBe(1201);
    expect(error.message).toContain(file);
    expect(error.message).toContain('longer than the 1024 characters a config path allows');
    // The message shows where and how long, not the whole key.
    expect(error.message).not.toContain(long);
    // Nor may the defaults, an update or a variable's JSON bring one in.
    expect(thrown(() => createConfig({ defaults: { ...defaults, limits: { [long]: 1 } }, schema })).code).toBe(1201);
    expect(thrown(() => createConfig({ defaults, schema, sources: { environment: { prefix: 'F', variables: { F_LIMITS: JSON.stringify({ [long]: 1 }) } } } })).code).toBe(1201);
    const config = createConfig({ defaults, schema, updatablePaths: ['limits'] });
    expect(thrown(() => config.update('limits', { [long]: 1 })).code).toBe(1201);
    // The longest key a path may name loads, and every use of its path agrees.
    const longest = 'K'.repeat(1024);
    const loaded = createConfig({ defaults, schema, sources: { file: writeJson('longest-key.json', { limits: { [longest]: 1 } }) }, updatablePaths: ['limits'] });
    expect(loaded.get(`limits.${longest}`)).toBe(1);
    expect(loaded.update(['limits', longest], 2)).toBe(2);
    expect(loaded.isUpdatable(`limits.${longest}`)).toBe(true);
  });

  it('names the file only for values it set and nothing set over it (review finding)', () => {
    // The file was taken to have set the whole config: every invalid value was blamed on it,
    // a bad default it never touched and a value a variable set over it included.
    const file = writeJson('partial.json', { dev: { logLevel: 'warn' }, server: { port: 0, tags: ['b'] } });
    const badDefault = thrown(() => createConfig({ defaults: { ...defaults, dev: { ...defaults.dev, logLevel: 'verbose' as 'info' } }, schema, sources: { file: writeJson('fine.json', { server: { port: 5000 } }) } }));
    expect(badDefault.message).toContain('dev.logLevel');
    expect(badDefault.message).not.toContain('[from');
    const overridden = thrown(() => createConfig({ defaults, schema, sources: { file, environment: { prefix: 'F', variables: { F_SERVER__PORT: '70000' } } } }));
    expect(overridden.code).toBe(1203);
    expect(overridden.message).toMatch(/\[from environment variable F_SERVER__PORT\]$/);
    expect(overridden.context).toMatchObject({ origins: ['environment variable F_SERVER__PORT'] });
    // A variable whose JSON object set, over the file's, the value refused.
    const replaced = thrown(() => createConfig({ defaults, schema, sources: { file, environment: { prefix: 'F', variables: { F_SERVER: '{"port": 1, "host": "h", "tags": 3}' } } } }));
    expect(replaced.message).toMatch(/\[from environment variable F_SERVER\]$/);
    // An array the file set and an element a variable set in it: both had a hand in the array.
    const tagged = schema.refine((value) => value.server.tags.length > 2, { path: ['server', 'tags'] });
    const both = thrown(() => createConfig({ defaults, schema: tagged, sources: { file, environment: { prefix: 'F', variables: { F_SERVER__PORT: '1', F_SERVER__TAGS__1: 'c' } } } }));
    expect(both.context).toMatchObject({ origins: [`config file ${file}`, 'environment variable F_SERVER__TAGS__1'] });
    // A variable under another variable: the deeper one set the value.
    const deeper = thrown(() => createConfig({ defaults, schema, sources: { environment: { prefix: 'F', variables: { F_SERVER: '{"port": 1, "host": "h", "tags": []}', F_SERVER__PORT: '0' } } } }));
    expect(deeper.context).toMatchObject({ origins: ['environment variable F_SERVER__PORT'] });
  });
});

describe('environment variables', () => {
  const create = (variables: Record<string, string | undefined>, prefix = 'FOUNDATION') =>
    createConfig({ defaults, schema, sources: { environment: { prefix, variables } } });

  it('maps PREFIX_SECTION__KEY_NAME to section.keyName, matching existing keys whatever their case style', () => {
    const snake = createConfig({
      defaults: { http_server: { max_connections: 10, keepAlive: true } },
      sources: { environment: { prefix: 'APP_', variables: { APP_HTTP_SERVER__MAX_CONNECTIONS: '20', APP_HTTPSERVER__KEEP_ALIVE: 'false' } } },
    });
    expect(snake.get()).toEqual({ http_server: { max_connections: 20, keepAlive: false } });
  });

  it('parses values by the type of the value they replace, then validates them', () => {
    const config = create({
      FOUNDATION_DEV__DEBUG_MODE: 'yes',
      FOUNDATION_DEV__LOG_LEVEL: 'debug',
      FOUNDATION_SERVER__PORT: ' 8080 ',
      FOUNDATION_SERVER__HOST: '0123',
      FOUNDATION_SERVER__TAGS: '["x", "y"]',
      FOUNDATION_LIMITS: '{"rps": 100}',
    });
    expect(config.get()).toEqual({
      dev: { debugMode: true, logLevel: 'debug' },
      server: { port: 8080, host: '0123', tags: ['x', 'y'] },
      limits: { rps: 100 },
    });
  });

  it('creates keys named like Object.prototype members, reading only own properties on the way', () => {
    const config = createConfig({ defaults: {}, sources: { environment: { prefix: 'X', variables: { X_VALUE_OF__LIMIT: '3', X_TO_STRING: 'text' } } } });
    expect(config.get()).toEqual({ valueOf: { limit: 3 }, toString: 'text' });
    expect(Object.getPrototypeOf(config.get('valueOf'))).toBe(Object.prototype);
  });

  it('keeps a number too large for a double as text: the config never holds Infinity', () => {
    const config = createConfig({ defaults: { port: 1 }, sources: { environment: { prefix: 'X', variables: { X_PORT: '1e999' } } } });
    expect(config.get('port')).toBe('1e999');
    expect(() => create({ FOUNDATION_SERVER__PORT: '-1e400' })).toThrow(ConfigValidationError);
  });

  it('reads JSON literals for new keys and keeps other text as text', () => {
    const config = createConfig({
      defaults: {},
      sources: { environment: { prefix: 'X', variables: { X_A: 'true', X_B: '12.5', X_C: 'null', X_D: 'hello', X_E: '[1]', X_F__G: 'deep' } } },
    });
    expect(config.get()).toEqual({ a: true, b: 12.5, c: null, d: 'hello', e: [1], f: { g: 'deep' } });
  });

  it('names the variable when its value fails validation', () => {
    const error = thrown(() => create({ FOUNDATION_SERVER__PORT: 'eighty' }));
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect(error.code).toBe(1201);
    expect(error.message).toContain('server.port');
    expect(error.message).toContain('FOUNDATION_SERVER__PORT');
    const range = thrown(() => create({ FOUNDATION_SERVER__PORT: '70000' }));
    expect(range.code).toBe(1203);
    expect(range.message).toContain('FOUNDATION_SERVER__PORT');
  });

  it('ignores variables outside the prefix, including longer names that only start like it', () => {
    const config = create({ FOUNDATIONS_SERVER__PORT: '1', OTHER: 'x', FOUNDATION: 'x', FOUNDATION_: 'y', FOUNDATION_SERVER__PORT: undefined });
    expect(config.get()).toEqual(defaults);
  });

  it('applies shallow variables before deep ones, whatever the environment order', () => {
    const config = create({ FOUNDATION_SERVER__PORT: '9000', FOUNDATION_SERVER: '{"port": 1, "host": "h", "tags": []}' });
    expect(config.get('server')).toEqual({ port: 9000, host: 'h', tags: [] });
  });

  it('orders variables of one depth key by key, as the README says, and the last one for a key wins (review finding)', () => {
    // The README said "then by name"; the order is by the keys after the prefix (indexes by
    // number), then by the whole name, which differs from the name's order where the prefix's
    // case differs or a key is another with a "-" added.
    expect(create({ Foundation_SERVER__PORT: '1', FOUNDATION_server__port: '2' }).get('server.port')).toBe(2);
    expect(create({ FOUNDATION_SERVER__PORT: '1', 'FOUNDATION_SERVER__PORT-': '2' }).get('server.port')).toBe(2);
    expect(create({ FOUNDATION_SERVER__PORT: '1', foundation_server__port: '2' }).get('server.port')).toBe(2);
    expect(create({ FOUNDATION_DEV__DEBUG_MODE: 'true', FOUNDATION_DEV__DEBUGMODE: 'false' }).get('dev.debugMode')).toBe(true);
  });

  it('indexes arrays with numbers', () => {
    expect(create({ FOUNDATION_SERVER__TAGS__0: 'first', FOUNDATION_SERVER__TAGS__1: 'second' }).get('server.tags')).toEqual(['first', 'second']);
    // In numeric order, not text order (review finding: __10 came before __2 and was past the end).
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, index) => [`FOUNDATION_SERVER__TAGS__${index}`, `t${index}`]));
    expect(create(eleven).get('server.tags')).toEqual(Array.from({ length: 11 }, (_, index) => `t${index}`));
    expect(thrown(() => create({ FOUNDATION_SERVER__TAGS__NAME: 'x' })).code).toBe(5402);
    expect(thrown(() => create({ FOUNDATION_SERVER__TAGS__5: 'x' })).code).toBe(5402);
  });

  it('sets keys under a null default as under a missing one (review finding)', () => {
    // null, the config's "no value", was taken for a scalar to set keys inside (5402), where the
    // same variables over a missing key made the object.
    const tls = z.object({ tls: z.object({ cert: z.string(), key: z.string() }).nullable(), hosts: z.record(z.string(), z.string()).nullable() });
    const variables = { F_TLS__CERT: 'c.pem', F_TLS__KEY: 'k.pem', F_HOSTS__0: 'a' };
    const expected = { tls: { cert: 'c.pem', key: 'k.pem' }, hosts: { '0': 'a' } };
    expect(createConfig({ defaults: {}, schema: tls.partial(), sources: { environment: { prefix: 'F', variables } } }).get()).toEqual(expected);
    expect(createConfig({ defaults: { tls: null, hosts: null }, schema: tls, sources: { environment: { prefix: 'F', variables } } }).get()).toEqual(expected);
    const file = writeJson('null.json', { tls: null });
    expect(createConfig({ defaults: { tls: { cert: 'x', key: 'y' }, hosts: null }, schema: tls, sources: { file, environment: { prefix: 'F', variables: { F_TLS__CERT: 'c.pem', F_TLS__KEY: 'k.pem' } } } }).get('tls')).toEqual(expected.tls);
    expect(createConfig({ defaults: { tls: null, hosts: null }, schema: tls }).get()).toEqual({ tls: null, hosts: null });
  });

  it('refuses a variable naming a path longer than a config path may be (5402), however long (review finding)', () => {
    // The name's keys were neither counted nor bounded: 200 of them made a config 200 levels deep
    // (files and JSON values stop at 64), and a name as long as Linux lets one be (128 KiB, some
    // 43,000 keys) overflowed the stack with a RangeError instead of a config error.
    const named = (keys: number) => `F_${Array.from({ length: keys }, () => 'A').join('__')}`;
    expect(createConfig({ defaults: {}, sources: { environment: { prefix: 'F', variables: { [named(64)]: '1' } } } }).get(Array.from({ length: 64 }, () => 'a'))).toBe(1);
    for (const keys of [65, 200, 43_000]) {
      const error = thrown(() => createConfig({ defaults: {}, sources: { environment: { prefix: 'F', variables: { [named(keys)]: '1' } } } }));
      expect(error).toBeInstanceOf(ConfigSourceError);
      expect(error.code).toBe(5402);
      expect(error.message).toContain('F_A__A__A');
    }
    // A key longer than a path segment may be could never be read back.
    const long = thrown(() => createConfig({ defaults: {}, sources: { environment: { prefix: 'F', variables: { [`F_${'K'.repeat(1025)}`]: '1' } } } }));
    expect(long.code).toBe(5402);
  });

  it('refuses ambiguous keys, empty segments, bad JSON and setting inside a scalar (5402)', () => {
    const ambiguous = thrown(() =>
      createConfig({ defaults: { log_level: 1, logLevel: 2 }, sources: { environment: { prefix: 'A', variables: { A_LOG_LEVEL: '3' } } } }),
    );
    expect(ambiguous.code).toBe(5402);
    expect(ambiguous.message).toContain('A_LOG_LEVEL');
    expect(thrown(() => create({ FOUNDATION_SERVER____PORT: '1' })).code).toBe(5402);
    expect(thrown(() => create({ FOUNDATION_SERVER__TAGS: '[1,' })).code).toBe(5402);
    expect(thrown(() => create({ FOUNDATION_SERVER__PORT__X: '1' })).code).toBe(5402);
  });

  it('applies 20,000 variables into one section and one array (review finding)', () => {
    // Each variable copied the object it landed in and compared its name with every key there,
    // so n variables in one section cost n² (8,000 took 16 s, 20,000 several minutes, past the
    // test's timeout). No clock is read here: a review measured 2,000 against 8,000 variables
    // at 2.9–4.5 times the work across seven layouts.
    const variables: Record<string, string> = {};
    for (let index = 0; index < 20_000; index += 1) {
      variables[`F_SECTION__KEY_${index}`] = String(index);
      variables[`F_LIST__${index}`] = 'x';
    }
    const config = createConfig({ defaults: { section: { key_0: -1 }, list: [] }, sources: { environment: { prefix: 'F', variables } } });
    expect(config.get('section.key_0')).toBe(0);
    expect(config.get(['section', 'key19999'])).toBe(19_999);
    expect((config.get(['list']) as unknown[]).length).toBe(20_000);
  });

  it('reads process.env when no variables are given', () => {
    process.env.FOUNDATION_CONFIG_TEST__VALUE = '42';
    try {
      const config = createConfig({ defaults: { configTest: { value: 0 } }, sources: { environment: { prefix: 'FOUNDATION_CONFIG_TEST' } } });
      expect(config.get()).toEqual({ configTest: { value: 0 }, value: 42 });
    } finally {
      delete process.env.FOUNDATION_CONFIG_TEST__VALUE;
    }
  });

  it('supports another separator', () => {
    const config = createConfig({ defaults: { a: { b: 1 } }, sources: { environment: { prefix: 'P', separator: '.', variables: { 'P_A.B': '2' } } } });
    expect(config.get('a.b')).toBe(2);
  });
});

describe('new keys take only JSON literals (review finding)', () => {
  // Any decimal numeral became a number over a missing (or null) key, though only JSON literals
  // are documented to: "0755" or "007" for an optional string became 755 or 7, which a string
  // schema then refused, so no variable could set that key to that text.
  const schema = z.object({ mode: z.string().optional(), code: z.string().nullable() });
  it.each(['0755', '007', '00', '+5', '.5', '5.'])('%j stays text', (text) => {
    const config = createConfig({ defaults: { code: null }, schema, sources: { environment: { prefix: 'F', variables: { F_MODE: text, F_CODE: text } } } });
    expect(config.get()).toEqual({ mode: text, code: text });
  });
  it.each([
    ['0', 0],
    ['-0.5', -0.5],
    ['1E3', 1000],
    [' 7 ', 7],
  ])('%j is the number %j', (text, expected) => {
    expect(createConfig({ defaults: {}, sources: { environment: { prefix: 'F', variables: { F_N: text } } } }).get('n')).toBe(expected);
  });
});

describe('parseVariableValue', () => {
  it.each([
    ['7', 1, 7],
    ['-1.5e3', 1, -1500],
    ['0x10', 1, '0x10'],
    ['1e999', 1, '1e999'],
    ['', 1, ''],
    ['TRUE', false, true],
    ['off', true, false],
    ['maybe', true, 'maybe'],
    ['007', 'text', '007'],
    [' spaced ', 'text', ' spaced '],
    ['[1,2]', [0], [1, 2]],
    ['plain', {}, 'plain'],
    ['1e999', undefined, '1e999'],
  ])('%j over %j is %j', (text, current, expected) => {
    expect(parseVariableValue('V', text, current, [])).toEqual(expected);
  });
});

describe('malformed JSON is reported without the text around the mistake (review finding)', () => {
  // The parser's own message quotes the input near the mistake ("...\"assword\": s3cr3tPass\"...
  // is not valid JSON"), and the error put it in its message and kept the parser's error as its
  // cause: config values are where secrets live, and errors go to logs.
  const secret = 's3cr3tPassw0rd';
  /** Every way the error reaches a log: message, cause, wire form, text, stack. */
  function everyText(error: FoundationError): string {
    return [error.message, String(error), String(error.stack), JSON.stringify(error.toJSON()), String(error.cause), JSON.stringify(error.context)].join('\n');
  }

  it.each([
    ['a bare word where a value belongs', `{"password": ${secret}}`, 1, 14, /expected a value/],
    ['a trailing comma', `{"password": "${secret}",}`, 1, 31, /property name/],
    ['an unterminated string', `{"password": "${secret}`, 1, 14, /never closed/],
    ['a bad escape', `{"password": "${secret}\\q"}`, 1, 29, /escape/],
    ['a missing colon', `{"${secret}" 1}`, 1, 19, /':'/],
    ['text after the value', `{"a": 1} ${secret}`, 1, 10, /after the JSON value/],
  ])('an environment variable with %s says where and why, never what', (_label, text, line, column, why) => {
    const error = thrown(() => createConfig({ defaults: {}, sources: { environment: { prefix: 'APP', variables: { APP_EXTRA: text } } } }));
    expect(error).toBeInstanceOf(ConfigSourceError);
    expect(error.code).toBe(5402);
    expect(error.message).toContain('APP_EXTRA');
    expect(error.message).toContain(`line ${line}, column ${column}`);
    expect(error.message).toMatch(why);
    expect(everyText(error)).not.toContain(secret.slice(0, 4));
    expect(error.cause).toBeUndefined();
  });

  it('counts columns in the variable as written, leading spaces included', () => {
    const error = thrown(() => createConfig({ defaults: {}, sources: { environment: { prefix: 'APP', variables: { APP_EXTRA: `  [1, ${secret}]` } } } }));
    expect(error.message).toContain('line 1, column 7');
    expect(everyText(error)).not.toContain(secret.slice(0, 4));
  });

  it('a file gives its path, line and column, and none of its text', () => {
    const file = writeJson('secret.json', `{\n  "database": {\n    "password": ${secret}\n  }\n}\n`);
    const error = thrown(() => createConfig({ defaults, sources: { file } }));
    expect(error).toBeInstanceOf(ConfigSourceError);
    expect(error.code).toBe(5402);
    expect(error.message).toContain(file);
    expect(error.message).toContain('line 3, column 17');
    expect(error.message).toMatch(/expected a value/);
    expect(everyText(error)).not.toContain(secret.slice(0, 4));
    const truncated = thrown(() => createConfig({ defaults, sources: { file: writeJson('cut.json', `{"password": "${secret}", "port": `) } }));
    expect(truncated.message).toMatch(/ends before the JSON value is complete/);
    expect(everyText(truncated)).not.toContain(secret.slice(0, 4));
  });
});

describe('source options are checked before anything is read (review finding)', () => {
  // A variable that was not a string reached Buffer.byteLength, which threw a plain TypeError;
  // a maxBytes of NaN failed as "cannot be read (The value of "size" is out of range...)", a
  // negative one as "is 8 bytes, more than the -1 allowed", and a string was compared as text.
  function refused(sources: Record<string, unknown>): FoundationError {
    const error = thrown(() => createConfig({ defaults: {}, sources }));
    expect(error).toBeInstanceOf(ConfigSourceError);
    expect(error.code).toBe(5402);
    return error;
  }

  it.each([
    ['a number', 5, /APP_PORT: must be a string \(or undefined\), not a number/],
    ['an object', {}, /APP_PORT: must be a string \(or undefined\), not an object/],
    ['null', null, /APP_PORT: must be a string \(or undefined\), not null/],
  ])('a variable holding %s', (_label, value, message) => {
    expect(refused({ environment: { prefix: 'APP', variables: { APP_PORT: value } } }).message).toMatch(message);
    // Variables outside the prefix are never read, so they are not looked at either.
    expect(createConfig({ defaults: {}, sources: { environment: { prefix: 'APP', variables: { OTHER: value } as never } } }).get()).toEqual({});
  });

  it.each([
    ['a string', 'APP_X=1'],
    ['a Map', new Map([['APP_X', '1']])],
    ['an array', ['APP_X']],
    ['null', null],
  ])('variables given as %s', (_label, variables) => {
    expect(refused({ environment: { prefix: 'APP', variables } }).message).toMatch(/variables must be an object of names to strings/);
  });

  it.each([
    ['null', null],
    ['a string', 'APP'],
  ])('an environment source given as %s', (_label, environment) => {
    expect(refused({ environment }).message).toMatch(/the environment source must be an object such as \{ prefix: 'FOUNDATION' \}/);
  });

  it.each([
    ['NaN', Number.NaN, /maxBytes must be a positive whole number of bytes \(or Infinity\), not NaN/],
    ['negative', -1, /not -1/],
    ['zero', 0, /not 0/],
    ['a fraction', 1.5, /not 1.5/],
    ['a string', '1000', /not a string/],
  ])('a maxBytes that is %s', (_label, maxBytes, message) => {
    const file = writeJson('small.json', { a: 1 });
    expect(refused({ file: { path: file, maxBytes } }).message).toMatch(message);
  });

  it('a file source that is neither a path nor an object, and an optional that is not a boolean', () => {
    expect(refused({ file: null }).message).toMatch(/the file source must be a path or \{ path, optional, maxBytes \}/);
    expect(refused({ file: { path: join(directory, 'missing.json'), optional: 'no' } }).message).toMatch(/optional must be true or false, not a string/);
  });

  it('still takes a huge or infinite maxBytes as no practical limit', () => {
    const file = writeJson('small.json', { a: 1 });
    expect(createConfig({ defaults: {}, sources: { file: { path: file, maxBytes: Number.POSITIVE_INFINITY } } }).get()).toEqual({ a: 1 });
    expect(createConfig({ defaults: {}, sources: { file: { path: file, maxBytes: 2 ** 40 } } }).get()).toEqual({ a: 1 });
  });
});
