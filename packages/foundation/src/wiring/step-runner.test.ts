import { describe, expect, it } from '@jest/globals';
import { createStepRunner } from './step-runner';

const settle = async (): Promise<void> => {
  for (let turn = 0; turn < 20; turn += 1) await Promise.resolve();
};

describe('the step runner', () => {
  it('runs every step whatever the ones before it did, and keeps each failure as its own step', async () => {
    const steps = createStepRunner();
    const ran: string[] = [];
    const thrown = new Error('threw at once');
    const rejected = new Error('rejected later');
    await steps.run('throws', () => {
      ran.push('throws');
      throw thrown;
    });
    await steps.run('rejects', async () => {
      ran.push('rejects');
      await Promise.resolve();
      throw rejected;
    });
    await steps.run('succeeds', () => void ran.push('succeeds'));
    expect(ran).toEqual(['throws', 'rejects', 'succeeds']);
    expect(steps.failures).toEqual([
      { step: 'throws', error: thrown },
      { step: 'rejects', error: rejected },
    ]);
  });

  it('runs steps together: all start at once, it settles once all have, and failures keep the order given', async () => {
    const steps = createStepRunner();
    const finish = new Map<string, (error?: Error) => void>();
    const pending = (name: string) => () =>
      new Promise<void>((resolve, reject) => finish.set(name, (error) => (error === undefined ? resolve() : reject(error))));
    let settled = false;
    void steps.runTogether([
      ['first', pending('first')],
      ['second', pending('second')],
      ['third', pending('third')],
    ]).then(() => (settled = true));
    await settle();
    // Each started without waiting for the one before it.
    expect([...finish.keys()]).toEqual(['first', 'second', 'third']);
    const late = new Error('first, failing last');
    const early = new Error('third, failing first');
    finish.get('third')!(early);
    finish.get('second')!();
    await settle();
    expect(settled).toBe(false);
    finish.get('first')!(late);
    await settle();
    expect(settled).toBe(true);
    expect(steps.failures).toEqual([
      { step: 'first', error: late },
      { step: 'third', error: early },
    ]);
  });
});
