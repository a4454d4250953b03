// The demo's config validator: what setClusterWide is checked against before it reaches Raft.
import { describe, expect, it } from '@jest/globals';
import { checkDemoConfig, demoConfigSchema, demoDefaults } from '../src/node/app-config';
import { isValidKey, valueBytes } from '../src/node/kv-worker';

describe('demo config', () => {
  it('accepts the defaults', () => {
    expect(checkDemoConfig(demoDefaults(true))).toEqual([]);
    expect(demoConfigSchema['~standard'].validate(demoDefaults(false))).toEqual({ value: demoDefaults(false) });
  });

  it('names the path of each problem', () => {
    const bad = { kv: { maxValueBytes: 0, routing: 'fastest' }, traffic: { enabled: 'yes', intervalMs: 5 } };
    expect(checkDemoConfig(bad).map((issue) => issue.path.join('.'))).toEqual(['kv.maxValueBytes', 'kv.routing', 'traffic.enabled', 'traffic.intervalMs']);
    expect(checkDemoConfig(null)).toEqual([{ message: 'must be an object', path: [] }]);
    expect(checkDemoConfig({ kv: [], traffic: {} }).map((issue) => issue.path.join('.'))).toEqual(['kv', 'traffic.enabled', 'traffic.intervalMs']);
  });

  it('refuses a setting it does not know, so that a misspelt path is not taken as a new one', () => {
    // PUT /api/config/kv.maxValuebytes (a typo) was committed cluster-wide as a new key, and
    // so was any other name under kv or traffic, each up to a 64 KiB body, kept for good.
    const defaults = demoDefaults(true);
    const misspelt = { ...defaults, kv: { ...defaults.kv, maxValuebytes: 64 } };
    expect(checkDemoConfig(misspelt)).toEqual([{ message: 'is not a setting (kv has maxValueBytes, routing)', path: ['kv', 'maxValuebytes'] }]);
    const extra = { ...defaults, traffic: { ...defaults.traffic, junk: 'x'.repeat(1000) }, other: 1 };
    expect(checkDemoConfig(extra).map((issue) => issue.path.join('.'))).toEqual(['other', 'traffic.junk']);
  });
});

describe('kv keys and values', () => {
  it.each([
    ['greeting', true],
    ['sensor-north.v2:1_a', true],
    ['', false],
    ['-leading-dash', false],
    ['with space', false],
    ['__proto__', false],
    ['a'.repeat(128), true],
    ['a'.repeat(129), false],
  ])('key %j valid: %s', (key, valid) => expect(isValidKey(key)).toBe(valid));

  it('counts a value as the bytes of its JSON text', () => {
    expect(valueBytes('hé')).toBe(5);
    expect(valueBytes({ a: 1 })).toBe(7);
  });
});
