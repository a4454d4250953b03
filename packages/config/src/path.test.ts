import { describe, expect, it } from '@jest/globals';
import { createConfig } from './config';
import { cachedPathCharacters, parsePath } from './path';

describe('the cache of parsed dotted paths', () => {
  it('serves a path parsed before as the same frozen array', () => {
    const first = parsePath('server.port');
    expect(parsePath('server.port')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('holds a bounded number of characters, however long the paths asked for (review finding)', () => {
    // The cache was bounded by entries only (4,096), and a path may be 8,192 characters long:
    // misses of distinct long paths (a peer's config requests, say) kept about 32 million
    // characters alive for the life of the process.
    const config = createConfig({ defaults: { server: { port: 1 } } });
    const segment = 'x'.repeat(1000);
    for (let index = 0; index < 4000; index += 1) {
      const path = `${String(index)}.${Array.from({ length: 8 }, () => segment).join('.')}`;
      expect(config.getWithDefault(path, 'missing')).toBe('missing');
    }
    expect(cachedPathCharacters()).toBeLessThanOrEqual(2 * 1024 * 1024);
    // Short paths are still served from the cache.
    expect(parsePath('server.port')).toBe(parsePath('server.port'));
  });
});
