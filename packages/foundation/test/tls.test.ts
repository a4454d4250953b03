// Nodes with mutual TLS: a cluster forms over wss with certificates from the cluster CA (made
// at test time with the openssl CLI), a node without TLS or with a certificate from another CA
// cannot join, and the command line reaches a node with its own certificate.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCertificates } from '../../channels/test/certificates';
import type { TestCertificates } from '../../channels/test/certificates';
import { runCli } from '../src/cli/commands';
import { InvalidOptionsError, startNode } from '../src/index';
import type { FoundationNode } from '../src/index';
import { freePort, resolveOptions, urlOf } from '../src/options';

const SECRET = 'tls-test-secret-0123456789';
const root = mkdtempSync(join(tmpdir(), 'foundation-tls-'));
let certificates: TestCertificates;
let alpha: FoundationNode;
let beta: FoundationNode;
const others: FoundationNode[] = [];

beforeAll(async () => {
  certificates = generateCertificates();
  const [portA, portB] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  // The certificates name the nodes `node-a` and `node-b`; the ids add the address.
  const ids = [`node-a@127.0.0.1:${portA}`, `node-b@127.0.0.1:${portB}`];
  const common = { secret: SECRET, voters: ids, timing: 'local' as const };
  [alpha, beta] = await Promise.all([
    startNode({ ...common, name: ids[0]!, dataDir: join(root, 'a'), tls: { ...certificates.nodeA, ca: certificates.ca } }),
    startNode({ ...common, name: ids[1]!, seeds: [ids[0]!], dataDir: join(root, 'b'), tls: { ...certificates.nodeB, ca: certificates.ca } }),
  ]);
  for (let attempt = 0; attempt < 400 && ![alpha, beta].some((node) => node.status().raft.role === 'leader'); attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}, 30_000);

afterAll(async () => {
  await Promise.all([alpha?.stop(), beta?.stop(), ...others.map((node) => node.stop())]);
  rmSync(root, { recursive: true, force: true });
});

describe('startNode with TLS', () => {
  it('forms a cluster over wss and shares its state', async () => {
    expect(alpha.transport.address()!.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    expect(urlOf(beta.id, true)).toBe(beta.transport.address()!.url);
    await alpha.kv.put('over', 'tls');
    expect(await beta.kv.get('over')).toBe('tls');
    expect(alpha.transport.peers()).toContain(beta.id);
  });

  it.each([
    ['without TLS', () => ({})],
    ['with a certificate from another CA', () => ({ tls: { ...certificates.rogue, ca: certificates.rogueCa } })],
  ])('refuses a node %s, even with the right secret', async (_, extra) => {
    await expect(
      startNode({ name: 'node-c', secret: SECRET, seeds: [alpha.id], timing: 'local', joinTimeoutMs: 1_500, dataDir: join(root, `refused-${others.length}`), ...extra() }).then((node) => {
        others.push(node);
        return node;
      }),
    ).rejects.toThrow(/found no neighbour within 1500 ms/);
    expect(alpha.transport.peers().filter((peer) => peer.startsWith('node-c@'))).toEqual([]);
  });

  it('the command line reaches a node with a certificate from the cluster CA, named by its CN', async () => {
    const files = { FOUNDATION_TLS_CERT: join(root, 'cli.crt'), FOUNDATION_TLS_KEY: join(root, 'cli.key'), FOUNDATION_TLS_CA: join(root, 'ca.crt') };
    writeFileSync(files.FOUNDATION_TLS_CERT, certificates.nodeC.cert);
    writeFileSync(files.FOUNDATION_TLS_KEY, certificates.nodeC.key);
    writeFileSync(files.FOUNDATION_TLS_CA, certificates.ca);
    let out = '';
    let err = '';
    const run = (env: NodeJS.ProcessEnv) =>
      runCli(['status', '--json', '--timeout', '3000'], {
        out: (text) => (out += text),
        err: (text) => (err += text),
        env: { FOUNDATION_SECRET: SECRET, FOUNDATION_NODE: alpha.id, ...env },
        stopSignal: () => new Promise(() => undefined),
      });
    expect(await run(files)).toBe(0);
    const statuses = JSON.parse(out) as { node: string }[];
    expect(statuses.map((status) => status.node).sort()).toEqual([alpha.id, beta.id].sort());
    out = '';
    // Without the certificate the node does not answer (its TLS handshake needs one).
    expect(await run({})).not.toBe(0);
    expect(err).toMatch(/could not reach/);
  });
});

describe('TLS options', () => {
  it('come from the environment only as a whole, and are checked', async () => {
    await expect(resolveOptions({ secret: SECRET }, { FOUNDATION_TLS_CERT: '/x.crt' })).rejects.toThrow(/FOUNDATION_TLS_KEY, FOUNDATION_TLS_CA/);
    await expect(resolveOptions({ secret: SECRET }, { FOUNDATION_TLS_CERT: '/missing.crt', FOUNDATION_TLS_KEY: '/missing.key', FOUNDATION_TLS_CA: '/missing.ca' })).rejects.toThrow(/cannot read FOUNDATION_TLS_CERT/);
    await expect(resolveOptions({ secret: SECRET, tls: { cert: 'x', ca: 'y' } as never }, {})).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(resolveOptions({ secret: SECRET, maskFrames: 1 as never }, {})).rejects.toThrow(/maskFrames/);
    const resolved = await resolveOptions({ secret: SECRET, tls: { ...certificates.nodeA, ca: certificates.ca } }, {});
    expect(typeof resolved.tls?.bindNodeId).toBe('function');
    expect((await resolveOptions({ secret: SECRET }, {})).tls).toBeUndefined();
  });

  it('that are not a certificate, its key and a CA are refused by name', async () => {
    const port = await freePort('127.0.0.1');
    const cases: [string, Partial<{ cert: string; key: string; ca: string | string[] }>, RegExp][] = [
      ['a cert that is not PEM', { cert: 'not a certificate' }, /tls cert and key are not a certificate and its private key/],
      // every() skips holes, and so does the check of each CA (flat() drops them): a sparse list passed.
      // eslint-disable-next-line no-sparse-arrays
      ['a ca list with a hole', { ca: [certificates.ca, , certificates.ca] as string[] }, /tls needs ca, the cluster CA/],
      ['the key of another certificate', { key: certificates.nodeB.key }, /tls cert and key are not a certificate and its private key: .*key values mismatch/],
      ['a ca that is not PEM', { ca: 'not a certificate' }, /tls ca is not a PEM certificate/],
    ];
    for (const [what, change, message] of cases) {
      const tls = { ...certificates.nodeA, ca: certificates.ca, ...change };
      // An OpenSSL error from inside the transport, naming no option (and, for the CA, no error
      // at all: every connection then failed its handshake).
      const outcome = await startNode({ name: `node-a@127.0.0.1:${port}`, secret: SECRET, timing: 'local', dataDir: join(root, 'bad-tls'), tls }).then(
        async (node) => {
          await node.stop();
          return 'started';
        },
        (error: unknown) => error,
      );
      expect({ what, outcome }).toEqual({ what, outcome: expect.objectContaining({ code: 6101, option: 'tls' }) });
      expect((outcome as Error).message).toMatch(message);
    }
  });
});
