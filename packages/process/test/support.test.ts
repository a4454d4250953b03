// The waiting helper every other test leans on: bounded by real time (so a loaded machine does
// not turn a slow condition into a failure), never by a count of event-loop turns.
import { describe, expect, it } from '@jest/globals';
import { until } from './support';

describe('until', () => {
  it('waits for a condition that takes longer than any fixed number of event-loop turns', async () => {
    let ready = false;
    setTimeout(() => (ready = true), 300);
    await until(() => ready, 'a timer of 300 ms');
    expect(ready).toBe(true);
  });

  it('asks an async predicate again only once its previous answer has settled', async () => {
    let inFlight = 0;
    let most = 0;
    let asked = 0;
    await until(async () => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      asked += 1;
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
      inFlight -= 1;
      return asked === 30;
    }, 'thirty answers');
    expect(most).toBe(1);
  });

  it('gives up after its limit, naming what it waited for', async () => {
    await expect(until(() => false, 'something that never happens', 50)).rejects.toThrow(/something that never happens after 50 ms/);
  });
});
