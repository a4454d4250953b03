// The checks on hand-written histories: each must pass a correct history and catch the fault it
// is for.
import { describe, expect, it } from '@jest/globals';
import { membershipConverged, registryWorkerProblems } from '../src/checks/convergence';
import type { MembershipView, WorkerListing } from '../src/checks/convergence';
import { checkHistoryLinearizable } from '../src/checks/linearizability';
import { checkNoLostWrites } from '../src/checks/lost-writes';
import { FAULT_KINDS } from '../src/faults/schedule';
import { checkTable, faultTable, formatTable, replayCommand } from '../src/report/report';
import { createSeededRandom } from '@foundation/core';
import { RemoteError } from '../src/cluster/node-process';
import { FOUNDATION_RETRY_WINDOW_MS, startWorkload } from '../src/workload/workload';
import type { TimedEvent } from '../src/workload/workload';

type Step = [type: TimedEvent['type'], process: string | number, f: string, key: string, value?: unknown];

/** Events at successive times, on node n1 unless the process names a final read on another node. */
function history(steps: readonly Step[]): TimedEvent[] {
  return steps.map(([type, process, f, key, value], index) => ({
    type,
    process,
    f,
    key,
    ...(value === undefined ? {} : { value }),
    time: index * 10,
    node: typeof process === 'string' && process.startsWith('final-') ? process.slice('final-'.length) : 'n1',
  }));
}

const finals = (key: string, value: unknown, nodes = ['n1', 'n2']): Step[] =>
  nodes.flatMap((node): Step[] => [
    ['invoke', `final-${node}`, 'get', key],
    ['ok', `final-${node}`, 'get', key, value],
  ]);

describe('no acknowledged write lost', () => {
  it('passes when the last acknowledged write is what every node reads', () => {
    const events = history([['invoke', 0, 'put', 'k', 1], ['ok', 0, 'put', 'k'], ['invoke', 1, 'put', 'k', 2], ['ok', 1, 'put', 'k'], ...finals('k', 2)]);
    expect(checkNoLostWrites(events, ['k'], ['n1', 'n2'])).toMatchObject({ status: 'pass' });
  });

  it('passes when a concurrent or unknown write may have come last', () => {
    const events = history([
      ['invoke', 0, 'put', 'k', 1],
      ['invoke', 1, 'put', 'k', 2],
      ['ok', 1, 'put', 'k'],
      ['info', 0, 'put', 'k'],
      ...finals('k', 1),
    ]);
    expect(checkNoLostWrites(events, ['k'], ['n1', 'n2'])).toMatchObject({ status: 'pass' });
  });

  it('fails when the final value was written before an acknowledged write began', () => {
    const events = history([['invoke', 0, 'put', 'k', 1], ['ok', 0, 'put', 'k'], ['invoke', 1, 'put', 'k', 2], ['ok', 1, 'put', 'k'], ...finals('k', 1)]);
    const outcome = checkNoLostWrites(events, ['k'], ['n1', 'n2']);
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('acknowledged write lost');
  });

  it('fails when an acknowledged key reads empty, or nodes disagree, or a value comes from nowhere', () => {
    const empty = history([['invoke', 0, 'put', 'k', 1], ['ok', 0, 'put', 'k'], ...finals('k', null)]);
    expect(checkNoLostWrites(empty, ['k'], ['n1', 'n2']).status).toBe('fail');
    const split = history([['invoke', 0, 'put', 'k', 1], ['ok', 0, 'put', 'k'], ...finals('k', 1, ['n1']), ...finals('k', 9, ['n2'])]);
    expect(checkNoLostWrites(split, ['k'], ['n1', 'n2']).summary).toContain('disagree');
    const invented = history([['invoke', 0, 'put', 'k', 1], ['fail', 0, 'put', 'k'], ...finals('k', 1)]);
    expect(checkNoLostWrites(invented, ['k'], ['n1', 'n2']).summary).toContain('reported as not applied');
  });

  it('fails when a live node has no final read', () => {
    const events = history([['invoke', 0, 'put', 'k', 1], ['ok', 0, 'put', 'k'], ...finals('k', 1, ['n1'])]);
    expect(checkNoLostWrites(events, ['k'], ['n1', 'n2']).summary).toContain('no final read succeeded on n2');
  });

  it('does not pass with nothing to check: no live node, or no acknowledged write', () => {
    const events = history([['invoke', 0, 'put', 'k', 1], ['ok', 0, 'put', 'k']]);
    expect(checkNoLostWrites(events, ['k'], [])).toMatchObject({ status: 'fail', summary: 'no live node to read the keys from' });
    const unacknowledged = history([['invoke', 0, 'put', 'k', 1], ['info', 0, 'put', 'k'], ...finals('k', 1)]);
    expect(checkNoLostWrites(unacknowledged, ['k'], ['n1', 'n2'])).toMatchObject({ status: 'unknown' });
  });

  it('counts cas writes', () => {
    const events = history([['invoke', 0, 'put', 'k', 1], ['ok', 0, 'put', 'k'], ['invoke', 0, 'cas', 'k', [1, 5]], ['ok', 0, 'cas', 'k'], ...finals('k', 1)]);
    expect(checkNoLostWrites(events, ['k'], ['n1', 'n2']).status).toBe('fail');
  });
});

describe('linearizable', () => {
  it('passes a history with an unknown write that took effect', () => {
    const events = history([['invoke', 0, 'put', 'k', 1], ['info', 0, 'put', 'k'], ['invoke', 1, 'get', 'k'], ['ok', 1, 'get', 'k', 1]]);
    expect(checkHistoryLinearizable(events).status).toBe('pass');
  });

  it('catches a stale read and names the operations', () => {
    const events = history([
      ['invoke', 0, 'put', 'k', 1],
      ['ok', 0, 'put', 'k'],
      ['invoke', 0, 'put', 'k', 2],
      ['ok', 0, 'put', 'k'],
      ['invoke', 1, 'get', 'k'],
      ['ok', 1, 'get', 'k', 1],
    ]);
    const outcome = checkHistoryLinearizable(events);
    expect(outcome.status).toBe('fail');
    expect(outcome.details.join('\n')).toContain('get k → ok 1');
  });

  // An acknowledged put reports the value it replaced: the key held it where the put applied.
  const withPrevious = (events: TimedEvent[], previous: readonly unknown[]): TimedEvent[] => {
    let next = 0;
    return events.map((event) => (event.type === 'ok' && event.f === 'put' ? { ...event, previous: previous[next++] } : event));
  };

  it('passes puts whose reported previous values chain', () => {
    const events = history([['invoke', 0, 'put', 'k', 1], ['ok', 0, 'put', 'k'], ['invoke', 1, 'put', 'k', 2], ['ok', 1, 'put', 'k'], ['invoke', 0, 'get', 'k'], ['ok', 0, 'get', 'k', 2]]);
    expect(checkHistoryLinearizable(withPrevious(events, [null, 1])).status).toBe('pass');
  });

  it('catches a put that reports a previous value the key could not hold then, and names it as a put', () => {
    // Both puts say they replaced nothing, though the first was acknowledged before the second began.
    const events = withPrevious(history([['invoke', 0, 'put', 'k', 1], ['ok', 0, 'put', 'k'], ['invoke', 1, 'put', 'k', 2], ['ok', 1, 'put', 'k']]), [null, null]);
    const outcome = checkHistoryLinearizable(events);
    expect(outcome.status).toBe('fail');
    expect(outcome.details.join('\n')).toContain('put k 2 → ok (previous null)');
    expect(outcome.details.join('\n')).not.toContain('(not found)');
  });
});

describe('report tables', () => {
  it('pads columns to their widest cell', () => {
    expect(formatTable(['a', 'bb'], [['xxx', 'y']])).toBe('a    bb\n---  --\nxxx  y');
  });

  it('shows faults and checks', () => {
    expect(faultTable([{ index: 1, kind: 'kill', planned: 'leader', target: 'n2', startMs: 1500, durationMs: 4000, note: 'was the leader' }])).toContain('kill  n2      1.5 s  4.0 s     was the leader');
    expect(checkTable([{ name: 'linearizable', status: 'fail', summary: 'NOT linearizable', details: [] }])).toContain('FAIL');
  });

  it('replays a run with its seed and every setting that is not the default', () => {
    const settings = { faultKinds: FAULT_KINDS, nodes: 5, voters: 3, faultWindowMs: 60_000, timing: 'local', topology: 'auto', keys: 3, clients: 4, configClients: 2, snapshotEvery: 200, opTimeoutMs: 3_000, convergenceBoundMs: 30_000, errorsAsInfo: false, bounded: false } as const;
    expect(replayCommand({ seed: 7, settings })).toBe('npm run chaos -- --seed 7');
    expect(replayCommand({ seed: 7, settings: { ...settings, bounded: true, faultWindowMs: 12_345, convergenceBoundMs: 20_000 } })).toBe('npm run chaos -- --seed 7 --bounded');
    expect(replayCommand({ seed: 7, settings: { ...settings, faultWindowMs: 300_000, nodes: 7, errorsAsInfo: true } })).toBe('npm run chaos -- --seed 7 --duration 300 --nodes 7 --errors-as-info');
    expect(replayCommand({ seed: 7, settings: { ...settings, faultKinds: ['kill', 'pause'], timing: 'lan', convergenceBoundMs: 90_000 } })).toBe('npm run chaos -- --seed 7 --faults kill,pause --timing lan');
    expect(replayCommand({ seed: 7, settings: { ...settings, convergenceBoundMs: 45_000 } })).toBe('npm run chaos -- --seed 7 --converge 45');
    expect(replayCommand({ seed: 7, settings: { ...settings, nodes: 12, topology: 'client-server' } })).toBe('npm run chaos -- --seed 7 --nodes 12 --topology client-server');
    expect(replayCommand({ seed: 7, settings: { ...settings, configClients: 0, snapshotEvery: 10_000 } })).toBe('npm run chaos -- --seed 7 --config-clients 0 --snapshot-every 10000');
  });
});

describe('recording a write the node refused', () => {
  it('trusts a "not applied" code only when it came within foundation\'s retry window (review finding)', async () => {
    // Foundation retries 6010/6011/5810 until its consensus timeout; one that surfaces after it
    // describes the last attempt only, and an earlier attempt may have applied.
    let now = 0;
    const workload = startWorkload({ cluster: { nodes: [] } as never, keys: ['k'], clients: 0, random: createSeededRandom(1), opTimeoutMs: 20_000, now: () => now });
    const refusingAfter = (ms: number) =>
      ({
        name: 'n1',
        call: async () => {
          now += ms;
          throw new RemoteError('n1', 'not leader', 6010, 'not_leader');
        },
      }) as never;
    expect((await workload.perform(0, refusingAfter(10), 'put', 'k', 1)).type).toBe('fail');
    expect((await workload.perform(1, refusingAfter(FOUNDATION_RETRY_WINDOW_MS), 'put', 'k', 2)).type).toBe('info');
    await workload.stop();
  });
});

describe('membership re-converged', () => {
  const live = Array.from({ length: 12 }, (_, index) => ({ name: `n${index + 1}`, id: `node${index + 1}@127.0.0.1:${4000 + index}` }));
  const ids = live.map((node) => node.id);
  const views = (mode: string, membersOf: (index: number) => string[]): Map<string, MembershipView> => new Map(live.map((node, index) => [node.name, { mode, members: membersOf(index) }]));
  // A ring with chords: symmetric, one component, 4 neighbours each.
  const ring = (index: number): string[] => [1, 2, 10, 11].map((step) => ids[(index + step) % 12]!);

  it('in a full mesh, passes only when every live node sees every other', () => {
    expect(membershipConverged(views('full-mesh', (index) => ids.filter((_, other) => other !== index)), live)).toBe(true);
    expect(membershipConverged(views('full-mesh', ring), live)).toBe(false);
  });

  it('in HyParView, passes for partial views that are symmetric and join every live node into one overlay', () => {
    expect(membershipConverged(views('hyparview', ring), live)).toBe(true);
  });

  it('in HyParView, fails for two overlays, a one-sided link, a dead node in a view, or nodes in different modes', () => {
    // Two rings of six.
    const halves = (index: number): string[] => {
      const base = index < 6 ? 0 : 6;
      return [1, 5].map((step) => ids[base + ((index - base + step) % 6)]!);
    };
    expect(membershipConverged(views('hyparview', halves), live)).toBe(false);
    expect(membershipConverged(views('hyparview', (index) => (index === 0 ? [...ring(index), ids[5]!] : ring(index))), live)).toBe(false);
    expect(membershipConverged(views('hyparview', (index) => (index === 0 ? [...ring(index), 'dead@127.0.0.1:1'] : ring(index))), live)).toBe(false);
    const mixed = views('hyparview', ring);
    mixed.set('n3', { mode: 'full-mesh', members: ring(2) });
    expect(membershipConverged(mixed, live)).toBe(false);
    const failed = views('hyparview', ring);
    failed.set('n4', { mode: 'hyparview', members: new Error('timeout') });
    expect(membershipConverged(failed, live)).toBe(false);
  });
});

describe('registry lists every live worker', () => {
  const own = (node: string, incarnation = 1): string => `${node}@10.213.0.1:7000/${incarnation}/1`;
  const listings = (entries: Record<string, { own: string | null; listed: string[] } | Error>): Map<string, WorkerListing | Error> => new Map(Object.entries(entries));
  const all = [own('n1'), own('n2'), own('n3')];

  it('is right when every node lists each node\'s current worker once', () => {
    expect(registryWorkerProblems(listings({ n1: { own: own('n1'), listed: all }, n2: { own: own('n2'), listed: all }, n3: { own: own('n3'), listed: [...all].reverse() } }))).toEqual([]);
  });

  it('finds a killed life\'s worker that every node still lists, though the digests would agree', () => {
    // n3 restarted as incarnation 2; everyone, n3 included, still lists its first life's worker.
    const stale = [own('n1'), own('n2'), own('n3'), own('n3', 2)];
    const problems = registryWorkerProblems(listings({ n1: { own: own('n1'), listed: stale }, n2: { own: own('n2'), listed: stale }, n3: { own: own('n3', 2), listed: stale } }));
    expect(problems).toHaveLength(3);
    expect(problems[0]).toBe(`n1 lists ${own('n3')}, which no live node registered in its current life`);
  });

  it('finds a worker every other node misses, one listed twice, a registration gone, and a node that did not answer', () => {
    const problems = registryWorkerProblems(
      listings({ n1: { own: own('n1'), listed: [own('n1'), own('n1'), own('n2')] }, n2: { own: own('n2'), listed: [own('n1'), own('n2')] }, n3: { own: null, listed: [own('n1'), own('n2')] }, n4: new Error('timeout') }),
    );
    expect(problems).toEqual(["n3's own worker registration is gone", 'n4: (error: timeout)', 'n1 lists 1 workers twice']);
    expect(registryWorkerProblems(listings({ n1: { own: own('n1'), listed: [own('n1')] }, n2: { own: own('n2'), listed: [own('n1'), own('n2')] } }))).toEqual([`n1 does not list ${own('n2')}`]);
  });
});
