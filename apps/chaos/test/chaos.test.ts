// The bounded chaos run CI does: five real nodes in network namespaces, one partition, one
// SIGKILL and restart, one SIGSTOP/SIGCONT, a client history checked afterwards. It needs root,
// iproute2 and nftables; without them it is reported as skipped, with the reason in its name.
// FOUNDATION_SEED=<seed> replays a seed.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { seedFromEnvironment } from '@foundation/testkit';
import { spawnSync } from 'node:child_process';
import { runSync } from '../src/lab/command';
import { labUnavailableReason, removeLabsOf, sweepLeftoverLabs } from '../src/lab/network-lab';
import { formatReport } from '../src/report/report';
import { runChaos } from '../src/run';

const unavailable = labUnavailableReason();
const seed = Number(seedFromEnvironment(Math.floor(Math.random() * 2 ** 31)));
const lines: string[] = [];

beforeAll(async () => {
  if (unavailable !== null) return;
  // Namespaces of earlier runs whose process died before it could clean up.
  await sweepLeftoverLabs();
});

afterAll(async () => {
  if (unavailable !== null) return;
  // Whatever this process made and did not remove (the run removes its own, even on failure).
  const left = await removeLabsOf(process.pid);
  if (left.length > 0) throw new Error(`namespaces left behind and removed now: ${left.join(', ')}`);
});

const bounded = unavailable === null ? it : it.skip;

it(`checks the lab's prerequisites (${unavailable === null ? 'all present: the chaos run runs' : `missing: ${unavailable}`})`, () => {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) expect(unavailable).toContain('must run as root');
  if (unavailable !== null) process.stderr.write(`chaos: the bounded run is skipped: ${unavailable}\n`);
});

bounded('removes the namespaces of a crashed run (its pid gone), not those of a live one', async () => {
  // A pid that just ended: a crashed orchestrator's.
  const gone = spawnSync(process.execPath, ['-e', '']).pid;
  const leftover = `chaos-${gone}-0badc0-n1`;
  const live = `chaos-${process.pid}-0badc0-n1`;
  try {
    expect(runSync('ip', ['netns', 'add', leftover]).ok).toBe(true);
    expect(runSync('ip', ['netns', 'add', live]).ok).toBe(true);
    const swept = await sweepLeftoverLabs();
    expect(swept).toContain(leftover);
    expect(swept).not.toContain(live);
    const listed = runSync('ip', ['netns', 'list']).stdout;
    expect(listed).not.toContain(leftover);
    expect(listed).toContain(live);
  } finally {
    runSync('ip', ['netns', 'del', leftover]);
    runSync('ip', ['netns', 'del', live]);
  }
});

bounded(`bounded chaos run, seed ${seed}${unavailable === null ? '' : ` (skipped: ${unavailable})`}`, async () => {
  if (Number.isNaN(seed)) throw new Error('FOUNDATION_SEED must be an integer for the chaos run');
  const report = await runChaos({ seed, bounded: true, log: (line) => lines.push(line) });
  const text = formatReport(report);
  // Printed either way: the table is the run's record in the CI log.
  process.stdout.write(`${text}\n`);
  if (!report.passed) throw new Error(`chaos run failed, seed ${seed} (replay: FOUNDATION_SEED=${seed} npx jest apps/chaos, or npm run chaos -- --bounded --seed ${seed})\n${lines.join('\n')}\n${text}`);
  // Injected, not skipped (a fault whose node was not running is listed, with why, but did not happen).
  expect(report.faults.filter((fault) => fault.skipped === undefined).map((fault) => fault.kind).sort()).toEqual(expect.arrayContaining(['kill', 'pause']));
  expect(report.checks.map((check) => [check.name, check.status])).toEqual([
    ['linearizable', 'pass'],
    ['no acknowledged write lost', 'pass'],
    ['membership re-converged', 'pass'],
    ['registry digests equal', 'pass'],
    ['cluster-wide config equal', 'pass'],
  ]);
  expect(report.workload.okAfterFaults).toBeGreaterThan(0);
}, 120_000);
