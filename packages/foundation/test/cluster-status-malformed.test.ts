// The cluster status with a peer that answers the status request with something other than a
// status (a node of another version, or one that is not honest). Found in review: the answer
// was passed on as it came, and `foundation status` then failed whole with a TypeError from
// deep in its table, showing no node at all, and printed whatever characters the peer chose.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli/commands';
import type { FoundationNode } from '../src/index';
import { LOOPBACK_SECRET, startVoterAndLearners, until } from './support/loopback';

const root = mkdtempSync(join(tmpdir(), 'foundation-status-malformed-'));
const nodes: FoundationNode[] = [];
afterAll(async () => {
  for (const node of nodes.reverse()) await node.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

describe('the cluster status', () => {
  it('lists a peer whose answer is not a status with an error, and the other nodes as usual', async () => {
    const [honest, odd] = (await startVoterAndLearners(root, ['honest', 'odd'], nodes)) as [FoundationNode, FoundationNode];
    await until('the two nodes linked', () => honest.membership.members().includes(odd.id), 15_000);
    // The odd node's control handler answers with what status() returns: here, not a status.
    const status = odd.status();
    (odd as { status: () => unknown }).status = () => ({ ...status, raft: 'leader\u001b[2J', membership: null });

    const statuses = await honest.clusterStatus();
    expect(statuses).toEqual([
      { node: honest.id, status: expect.objectContaining({ id: honest.id }) },
      { node: odd.id, error: expect.stringMatching(/not its status \(membership, raft\)/) },
    ]);
    let out = '';
    let err = '';
    const code = await runCli(['status', '--node', honest.id, '--timeout', '5000'], {
      out: (text) => (out += text),
      err: (text) => (err += text),
      env: { FOUNDATION_SECRET: LOOPBACK_SECRET },
      stopSignal: () => new Promise(() => undefined),
    });
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(new RegExp(`${honest.id.replace(/\./g, '\\.')}\\s+leader`));
    expect(out).toMatch(new RegExp(`${odd.id.replace(/\./g, '\\.')}\\s+unreachable`));
    expect(out).not.toContain('\u001b');
  }, 60_000);
});
