// The README's example, run as a test so that it stays true. Two departures: the file source
// points into an empty temporary directory, and the environment is a plain object instead of
// process.env, so that nothing around the test changes what it reads.
import { expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigPathNotFoundError, createConfig } from './index';

it('runs the README example', () => {
  const directory = mkdtempSync(join(tmpdir(), 'config-readme-'));
  try {
    const schema = z.object({
      dev: z.object({ debugMode: z.boolean(), verboseLogging: z.boolean() }),
      telemetry: z.object({ samplingRate: z.number().min(0).max(1) }),
      server: z.object({ port: z.number().int().min(1).max(65_535) }),
    });

    const config = createConfig({
      defaults: { dev: { debugMode: false, verboseLogging: false }, telemetry: { samplingRate: 1 }, server: { port: 4000 } },
      schema,
      updatablePaths: ['dev.debugMode', 'telemetry'], // everything else is read-only at runtime
      sources: {
        file: { path: join(directory, 'config.json'), optional: true },
        environment: { prefix: 'FOUNDATION', variables: { FOUNDATION_DEV__DEBUG_MODE: 'true' } }, // sets dev.debugMode
      },
    });

    const port: number = config.get('server.port'); // typed as number
    expect(port).toBe(4000);
    expect(config.get('dev.debugMode')).toBe(true);
    expect(config.get(['telemetry', 'samplingRate'])).toBe(1);
    expect(Object.isFrozen(config.get().telemetry)).toBe(true); // the whole config, deeply frozen

    const heard: string[] = [];
    const unsubscribe = config.subscribe((change) => {
      if (change.type === 'config-updated') heard.push(`${change.path.join('.')} ${String(change.previous)} → ${String(change.value)}`);
      else heard.push(change.type);
    });

    config.update('telemetry.samplingRate', 0.25);
    expect(heard).toEqual(['telemetry.samplingRate 1 → 0.25']);
    const refusals = [config.safeUpdate('telemetry.samplingRate', 2), config.safeUpdate('server.port', 80), config.safeUpdate(['__proto__', 'polluted'], true)];
    expect(refusals.map((result) => (result.ok ? 'ok' : `${result.error.type} ${result.error.code}`))).toEqual([
      'range_error 1203',
      'config_update_forbidden 1401',
      'config_security_violation 5401',
    ]);
    expect(config.get('telemetry.samplingRate')).toBe(0.25); // nothing changed
    expect(config.getWithDefault('server.timeoutMs', 5000)).toBe(5000);
    let missing: unknown;
    try {
      config.get('server.timeoutMs');
    } catch (error) {
      missing = error;
    }
    expect(missing).toBeInstanceOf(ConfigPathNotFoundError);
    expect([(missing as ConfigPathNotFoundError).code, (missing as ConfigPathNotFoundError).path]).toEqual([1301, ['server', 'timeoutMs']]);

    config.reset(); // back to defaults < file < environment
    expect(heard.at(-1)).toBe('config-reset');
    expect([config.get('telemetry.samplingRate'), config.get('dev.debugMode')]).toEqual([1, true]);
    unsubscribe();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
