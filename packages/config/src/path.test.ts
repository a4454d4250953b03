import { describe, expect, it } from '@jest/globals';
import { createConfig } from './config';
import { ConfigPathError } from './errors/config-path-error';
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

describe('paths that are too long', () => {
  it('are refused from their length, without reading every key (review finding)', () => {
    // An array path was walked and then turned whole into text for the message before its
    // length was checked: a 16-million-hole array took seconds and most of a gigabyte to refuse.
    const config = createConfig({ defaults: { server: { port: 1 } } });
    let reads = 0;
    const path: string[] = Array.from({ length: 1000 }, () => 'server');
    Object.defineProperty(path, 999, {
      get(): string {
        reads += 1;
        return 'port';
      },
    });
    for (const action of [() => config.get(path), () => config.getWithDefault(path, 0), () => parsePath(path), () => config.isUpdatable(path)]) {
      expect(action).toThrow(ConfigPathError);
    }
    expect(config.safeUpdate(path, 2).ok).toBe(false);
    expect(reads).toBe(0);
  });
});
