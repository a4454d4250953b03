import { describe, expect, it } from '@jest/globals';
import { createProgressReporter } from '../src/progress';
import type { ProgressUpdate } from '../src/experiment';

const update = (phase: string, simulatedMs: number): ProgressUpdate => ({ phase, detail: 'round 1/5', simulatedMs, liveNodes: 20, nodes: 100 });

describe('the progress reporter', () => {
  it('in a pipe, writes a line per phase and then at most one every 5 s of wall time', () => {
    let now = 0;
    const written: string[] = [];
    const reporter = createProgressReporter({ isTTY: false, write: (text: string) => written.push(text) }, () => now);
    reporter.update(update('join', 250));
    now = 1_000;
    reporter.update(update('join', 500));
    now = 5_500;
    reporter.update(update('join', 750));
    now = 5_600;
    reporter.update(update('fail 80%', 1_000));
    reporter.finish();
    expect(written).toEqual([
      '[join] round 1/5, simulated 0.3 s, 20/100 nodes live, 0.0 s elapsed\n',
      '[join] round 1/5, simulated 0.8 s, 20/100 nodes live, 5.5 s elapsed\n',
      '[fail 80%] round 1/5, simulated 1.0 s, 20/100 nodes live, 5.6 s elapsed\n',
    ]);
  });

  it('on a terminal, rewrites one line in place and ends it on finish', () => {
    let now = 0;
    const written: string[] = [];
    const reporter = createProgressReporter({ isTTY: true, write: (text: string) => written.push(text) }, () => now);
    reporter.update(update('join', 0));
    now = 100;
    reporter.update(update('join', 250));
    now = 300;
    reporter.update(update('join', 500));
    reporter.finish();
    expect(written).toHaveLength(3);
    const clearLine = '\r\u001b[2K';
    expect(written[0]!.startsWith(`${clearLine}[join]`)).toBe(true);
    expect(written[1]!.startsWith(`${clearLine}[join] round 1/5, simulated 0.5 s`)).toBe(true);
    expect(written[2]).toBe('\n');
  });
});
