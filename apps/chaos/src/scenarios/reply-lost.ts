// A scripted reproduction of the finding in the README ("a write forwarded by a follower can be
// applied twice"), without waiting for a random schedule to hit it:
//
//   1. k = 1, written through the leader L.
//   2. Packets from L to a learner F are dropped (one way): F can still send to L.
//   3. F runs compareAndSet(k, 1, 2). F forwards it to L, L commits and applies it, and its
//      reply is lost.
//   4. Once F's link to L is declared down (F's pending request then fails with
//      requestInterrupted), the drop rule goes away, so whatever F does next reaches L.
//   5. The compareAndSet answers. It applied, so the right answer is `true`. `false` or an
//      error that says "certainly not applied" is the bug.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCluster } from '../cluster/cluster';
import type { Cluster } from '../cluster/cluster';
import { RemoteError } from '../cluster/node-process';
import type { ChaosNode } from '../cluster/node-process';
import { findLeader } from '../faults/nemesis';
import { checkLabPrerequisites, createNetworkLab, sweepLeftoverLabs } from '../lab/network-lab';
import type { NetworkLab } from '../lab/network-lab';

export interface ScenarioOutcome {
  /** `reproduced`: the bug showed; `correct`: the right answer; `inconclusive`: the steps did not line up. */
  readonly verdict: 'reproduced' | 'correct' | 'inconclusive';
  readonly lines: readonly string[];
  readonly runDirectory: string;
}

interface KvAnswer {
  readonly result: unknown;
}

const KEY = 'reply-lost';

async function waitFor<T>(probe: () => Promise<T | null>, boundMs: number): Promise<T | null> {
  const deadline = performance.now() + boundMs;
  while (performance.now() < deadline) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    await sleep(50);
  }
  return null;
}

export async function runReplyLostScenario(options: { readonly log?: (line: string) => void } = {}): Promise<ScenarioOutcome> {
  const log = options.log ?? ((): void => undefined);
  checkLabPrerequisites();
  await sweepLeftoverLabs();
  const started = performance.now();
  const lines: string[] = [];
  const note = (line: string): void => {
    const stamped = `${((performance.now() - started) / 1000).toFixed(3).padStart(7)} s  ${line}`;
    lines.push(stamped);
    log(stamped);
  };
  const runDirectory = mkdtempSync(join(tmpdir(), `chaos-run-${process.pid}-`));
  let lab: NetworkLab | null = null;
  let cluster: Cluster | null = null;
  let verdict: ScenarioOutcome['verdict'] = 'inconclusive';
  try {
    lab = await createNetworkLab({ hosts: ['n1', 'n2', 'n3', 'n4', 'n5'] });
    cluster = createCluster({ lab, voters: 3, port: 7000, timing: 'local', topology: 'auto', secret: `chaos-${lab.prefix}-shared-secret`, runDirectory });
    await cluster.start();
    const leader = await waitFor(() => findLeader(cluster!), 15_000);
    if (leader === null) {
      note('no leader within 15 s');
      return { verdict, lines, runDirectory };
    }
    // A learner: it forwards every write.
    const follower = cluster.nodes.find((node) => node !== leader && !cluster!.voters.includes(node.id)) as ChaosNode;
    note(`5 nodes up; leader ${leader.name}, the client uses learner ${follower.name}`);
    await leader.call('put', [KEY, 1], 5_000);
    note(`put ${KEY} 1 through ${leader.name}: ok`);

    await lab.dropFrom(follower.name, [leader.name]);
    note(`packets from ${leader.name} to ${follower.name} dropped (${follower.name} can still send to ${leader.name})`);
    const answer = follower.call<KvAnswer>('cas', [KEY, 1, 2], 20_000).then(
      (value) => ({ ok: true as const, value: value.result }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    note(`${follower.name}: compareAndSet(${KEY}, 1, 2) sent`);

    const applied = await waitFor(async () => ((await leader.call<KvAnswer>('get', [KEY], 2_000)).result === 2 ? true : null), 10_000);
    note(applied === null ? `${leader.name} never read 2 within 10 s` : `${leader.name} reads ${KEY} = 2: the compareAndSet applied`);
    const linkDown = await waitFor(async () => (!(await follower.call<string[]>('peers', [], 2_000)).includes(leader.id) ? true : null), 15_000);
    note(linkDown === null ? `${follower.name}'s link to ${leader.name} stayed up for 15 s` : `${follower.name}'s link to ${leader.name} is down`);
    await lab.dropFrom(follower.name, []);
    note('drop rule removed');

    const outcome = await answer;
    if (outcome.ok) {
      note(`${follower.name}: compareAndSet answered ${String(outcome.value)}`);
      if (applied !== null) verdict = outcome.value === true ? 'correct' : 'reproduced';
    } else {
      const error = outcome.error as Error;
      const code = error instanceof RemoteError ? error.code : undefined;
      note(`${follower.name}: compareAndSet failed: ${error.message}${code === undefined ? '' : ` (code ${code})`}`);
      // An error that says "certainly not applied" for a write that applied is the bug too.
      if (applied !== null && code !== undefined && [5804, 6010, 6011, 5810].includes(code)) verdict = 'reproduced';
    }
    const final = await follower.call<KvAnswer>('get', [KEY], 5_000).catch(() => null);
    note(`final read of ${KEY} through ${follower.name}: ${final === null ? '(failed)' : String(final.result)}`);
    return { verdict, lines, runDirectory };
  } finally {
    if (cluster !== null) await cluster.killAll();
    if (lab !== null) await lab.teardown();
    if (verdict === 'correct') rmSync(runDirectory, { recursive: true, force: true });
  }
}
