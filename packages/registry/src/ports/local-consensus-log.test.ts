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

  it('refuses calls with an aborted signal', async () => {
    const log = createLocalConsensusLog<string>();
    const controller = new AbortController();
    controller.abort(new Error('gave up'));
    await expect(log.append('x', { signal: controller.signal })).rejects.toThrow('gave up');
    await expect(log.readIndex({ signal: controller.signal })).rejects.toThrow('gave up');
    expect(log.appliedIndex()).toBe(0);
  });
});
