import { describe, expect, it } from '@jest/globals';
import { createLocalConsensusLog } from './local-consensus-log';

describe('createLocalConsensusLog', () => {
  it('applies commands in order, once, before append resolves, and reads at the last index', async () => {
    const log = createLocalConsensusLog<string>();
    const seen: string[] = [];
    const stop = log.onApplied((entry) => seen.push(`${entry.index}:${entry.command}`));
    log.onApplied(() => {
      throw new Error('a listener that fails does not stop the others');
    });
    expect(await log.append('a')).toBe(1);
    expect(seen).toEqual(['1:a']);
    expect(await log.append('b')).toBe(2);
    expect(log.appliedIndex()).toBe(2);
    expect(await log.readIndex()).toBe(2);
    stop();
    await log.append('c');
    expect(seen).toEqual(['1:a', '2:b']);
    expect(log.entries().map((entry) => entry.command)).toEqual(['a', 'b', 'c']);
  });

  it('gives every listener the commands in index order, a command appended by a listener included (review finding)', async () => {
    // A listener that appended (a registry closed or a name released from inside a handler)
    // had its command applied at once, nested: the listeners after it heard the new command
    // before the one they were being told, and a registry there applied a release before the
    // claim it released, then held the name for good.
    const log = createLocalConsensusLog<string>();
    const seen: string[] = [];
    log.onApplied((entry) => {
      seen.push(`first ${entry.index}:${entry.command}`);
      if (entry.command === 'a') void log.append('b');
    });
    log.onApplied((entry) => seen.push(`second ${entry.index}:${entry.command}`));
    expect(await log.append('a')).toBe(1);
    expect(seen).toEqual(['first 1:a', 'second 1:a', 'first 2:b', 'second 2:b']);
    expect(log.appliedIndex()).toBe(2);
    expect(log.entries().map((entry) => `${entry.index}:${entry.command}`)).toEqual(['1:a', '2:b']);
  });

  it('refuses calls with an aborted signal', async () => {
    const log = createLocalConsensusLog<string>();
    const controller = new AbortController();
    controller.abort(new Error('gave up'));
    await expect(log.append('x', { signal: controller.signal })).rejects.toThrow('gave up');
    await expect(log.readIndex({ signal: controller.signal })).rejects.toThrow('gave up');
    expect(log.appliedIndex()).toBe(0);
  });
});
