// DNS seeds against a real resolver (`dns.promises.Resolver`) talking to a small DNS responder
// on loopback: A, AAAA and SRV records, failures, and periodic re-resolution by the membership.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { promises as dns } from 'node:dns';
import { getEventListeners } from 'node:events';
import { FoundationError, createSystemClock } from '@foundation/core';
import { countTimers } from '@foundation/testkit';
import { startDnsServer, startSilentDnsServer } from '../../test/support/dns-server';
import type { DnsServer } from '../../test/support/dns-server';
import { defaultLocalConfig } from '../core/config';
import { SeedResolutionError } from '../errors/seed-resolution-error';
import { createDnsSeeds } from './dns-seeds';
import { createMembership } from './membership';
import type { SeedProvider } from './seeds';
import { recordingTransport } from '../../test/support/recording-transport';

let server: DnsServer;

beforeAll(async () => {
  server = await startDnsServer();
  server.records.set('nodes.cluster.test', { A: ['10.0.0.1', '10.0.0.2'], AAAA: ['fd00::7'] });
  server.records.set('only-v4.cluster.test', { A: ['10.0.0.9'] });
  // RFC 2782: a target of "." says the service is not available at this name.
  server.records.set('_none._tcp.cluster.test', { SRV: [{ priority: 0, weight: 0, port: 0, target: '.' }] });
  server.records.set('_foundation._tcp.cluster.test', {
    SRV: [
      { priority: 20, weight: 1, port: 7002, target: 'b.cluster.test' },
      { priority: 10, weight: 5, port: 7001, target: 'a.cluster.test' },
      { priority: 10, weight: 9, port: 7003, target: 'c.cluster.test' },
    ],
  });
});

afterAll(async () => {
  await server.close();
});

function resolver(): dns.Resolver {
  const created = new dns.Resolver({ timeout: 1_000, tries: 1 });
  created.setServers([server.address]);
  return created;
}

describe('createDnsSeeds', () => {
  it('A and AAAA records become host:port node ids ([v6]:port for IPv6)', async () => {
    const seeds = createDnsSeeds({ name: 'nodes.cluster.test', port: 4000, resolver: resolver() });
    expect(await seeds.resolve()).toEqual(['10.0.0.1:4000', '10.0.0.2:4000', '[fd00::7]:4000']);
    expect(await createDnsSeeds({ name: 'nodes.cluster.test', type: 'A', port: 4000, resolver: resolver() }).resolve()).toEqual(['10.0.0.1:4000', '10.0.0.2:4000']);
    expect(await createDnsSeeds({ name: 'nodes.cluster.test', type: 'AAAA', port: 4000, resolver: resolver() }).resolve()).toEqual(['[fd00::7]:4000']);
  });

  it('A+AAAA tolerates a name with only one of the two', async () => {
    expect(await createDnsSeeds({ name: 'only-v4.cluster.test', port: 4000, resolver: resolver() }).resolve()).toEqual(['10.0.0.9:4000']);
  });

  it('SRV records give host and port, lower priority first and heavier weight first within one', async () => {
    const seeds = createDnsSeeds({ name: '_foundation._tcp.cluster.test', type: 'SRV', servers: [server.address] });
    expect(await seeds.resolve()).toEqual(['c.cluster.test:7003', 'a.cluster.test:7001', 'b.cluster.test:7002']);
  });

  it('an SRV answer whose only target is "." (service not available) gives no seed (review finding)', async () => {
    // It became the seed ":0" (an empty host).
    const seeds = createDnsSeeds({ name: '_none._tcp.cluster.test', type: 'SRV', servers: [server.address] });
    await expect(seeds.resolve()).rejects.toMatchObject({ code: 5904 });
  });

  it('a custom mapping turns addresses into node ids (and may skip some)', async () => {
    const seeds = createDnsSeeds({
      name: 'nodes.cluster.test',
      port: 4000,
      resolver: resolver(),
      toNodeId: (address) => (address.type === 'A' ? `node@${address.host}` : undefined),
    });
    expect(await seeds.resolve()).toEqual(['node@10.0.0.1', 'node@10.0.0.2']);
  });

  it('an unknown name fails with SeedResolutionError (code 5904) naming the DNS error', async () => {
    const seeds = createDnsSeeds({ name: 'missing.cluster.test', port: 4000, resolver: resolver() });
    const failure = await Promise.resolve(seeds.resolve()).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SeedResolutionError);
    expect(FoundationError.hasType(failure, 5904)).toBe(true);
    expect((failure as SeedResolutionError).message).toMatch(/missing\.cluster\.test.*ENOTFOUND/);
  });

  it('a resolver that throws instead of rejecting fails with SeedResolutionError too, for every record type', async () => {
    // A resolver of one's own (the `resolver` option) that throws synchronously: the provider
    // rejected with that error as it was for A and AAAA, not with the documented 5904.
    const throwing = {
      resolve4: (): Promise<string[]> => {
        throw new TypeError('broken resolver');
      },
      resolve6: (): Promise<string[]> => {
        throw new TypeError('broken resolver');
      },
      resolveSrv: (): Promise<{ name: string; port: number; priority: number; weight: number }[]> => {
        throw new TypeError('broken resolver');
      },
    };
    for (const type of ['A', 'AAAA', 'A+AAAA', 'SRV'] as const) {
      const failure = await Promise.resolve(createDnsSeeds({ name: 'nodes.cluster.test', type, port: 4000, resolver: throwing }).resolve()).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect([type, FoundationError.hasType(failure, 5904), (failure as Error).message]).toEqual([type, true, expect.stringMatching(/broken resolver/)]);
    }
  });

  it('a lookup in flight ends when its signal aborts: it rejects with the abort at once and its query is not sent again', async () => {
    // There was no way to stop a lookup: it ran to its timeout, retries included.
    const silent = await startSilentDnsServer();
    try {
      const given = new dns.Resolver({ timeout: 1_000, tries: 2 });
      given.setServers([silent.address]);
      // The provider's own resolver, and one given to it (whose cancel() it calls).
      for (const resolverOption of [{}, { resolver: given }]) {
        const seeds = createDnsSeeds({ name: 'silent.cluster.test', type: 'A', port: 4000, servers: [silent.address], timeoutMs: 1_000, ...resolverOption });
        const before = silent.queries();
        const controller = new AbortController();
        const outcome = Promise.resolve(seeds.resolve(controller.signal)).then(
          () => 'answered',
          (error: unknown) => error,
        );
        await waitFor(() => silent.queries() > before, 'the query');
        const sent = silent.queries();
        controller.abort();
        expect(((await outcome) as Error).name).toBe('AbortError');
        // The default resolver retries after 1 s: a lookup cancelled by the abort sends nothing more.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        expect(silent.queries()).toBe(sent);
        expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      }
      // Aborted before it began: no query at all.
      const before = silent.queries();
      const seeds = createDnsSeeds({ name: 'silent.cluster.test', type: 'A', port: 4000, servers: [silent.address] });
      const outcome = await Promise.resolve(seeds.resolve(AbortSignal.abort())).then(
        () => 'answered',
        (error: unknown) => error,
      );
      expect((outcome as Error).name).toBe('AbortError');
      expect(silent.queries()).toBe(before);
    } finally {
      await silent.close();
    }
  }, 20_000);

  it('a signal used for many lookups holds no listener from those that ended', async () => {
    // The membership passes one signal to every lookup it makes, one every seedRefreshMs.
    const controller = new AbortController();
    const seeds = createDnsSeeds({ name: 'nodes.cluster.test', type: 'A+AAAA', port: 4000, resolver: resolver() });
    for (let round = 0; round < 3; round += 1) expect(await seeds.resolve(controller.signal)).toHaveLength(3);
    await expect(createDnsSeeds({ name: 'missing.cluster.test', port: 4000, resolver: resolver() }).resolve(controller.signal)).rejects.toMatchObject({ code: 5904 });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('rejects invalid options', () => {
    // maxSeeds NaN bounded nothing, and 0 still gave one seed.
    expect(() => createDnsSeeds({ name: 'x', maxSeeds: Number.NaN })).toThrow(/seeds.maxSeeds/);
    expect(() => createDnsSeeds({ name: 'x', maxSeeds: 0 })).toThrow(/seeds.maxSeeds/);
    expect(() => createDnsSeeds({ name: '' })).toThrow(/seeds.name/);
    expect(() => createDnsSeeds({ name: 'x', port: 70_000 })).toThrow(/seeds.port/);
    expect(() => createDnsSeeds({ name: 'x', type: 'MX' as never })).toThrow(/seeds.type/);
  });
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('DNS seeds in a membership', () => {
  it('are re-resolved every seedRefreshMs: a node added to DNS is contacted, a failure keeps the last list and is reported', async () => {
    server.records.set('mesh.cluster.test', { A: ['10.1.0.1'] });
    const transport = recordingTransport('10.1.0.100:4000');
    const errors: SeedResolutionError[] = [];
    const membership = createMembership({
      nodeId: '10.1.0.100:4000',
      transport,
      topology: 'full-mesh',
      clock: createSystemClock({ keepAlive: false }),
      seeds: createDnsSeeds({ name: 'mesh.cluster.test', type: 'A', port: 4000, resolver: resolver() }),
      config: { ...defaultLocalConfig(), seedRefreshMs: 50, joinTimeoutMs: 60_000 },
    });
    membership.on('seed-error', (error) => errors.push(error));
    const joined = membership.join().catch((error: unknown) => error);
    await waitFor(() => transport.contacted.has('10.1.0.1:4000'), 'the first seed');
    server.records.set('mesh.cluster.test', { A: ['10.1.0.1', '10.1.0.2'] });
    await waitFor(() => transport.contacted.has('10.1.0.2:4000'), 'the seed added to DNS');
    server.records.delete('mesh.cluster.test');
    await waitFor(() => errors.length > 0, 'a seed-error event');
    expect(errors[0]!.code).toBe(5904);
    await membership.leave();
    expect(FoundationError.hasType(await joined, 5902)).toBe(true);
  });

  it('leave() cancels a lookup in flight: its query is not sent again, nothing of it is reported, and no timer stays', async () => {
    // The provider had no way to be stopped: after leave() its query ran on to its own timeout,
    // retried once on the way, and only then failed.
    const silent = await startSilentDnsServer();
    try {
      const dnsSeeds = createDnsSeeds({ name: 'silent.cluster.test', type: 'A', port: 4000, servers: [silent.address], timeoutMs: 1_000 });
      // Passes each lookup through, keeping how it ended.
      const outcomes: Promise<unknown>[] = [];
      const watched: SeedProvider = {
        name: dnsSeeds.name,
        resolve(signal) {
          const answer = Promise.resolve(dnsSeeds.resolve(signal));
          outcomes.push(answer.then(() => 'answered', (error: unknown) => error));
          return answer;
        },
      };
      const transport = recordingTransport('10.2.0.100:4000');
      const { clock, pending } = countTimers(createSystemClock({ keepAlive: false }));
      const membership = createMembership({
        nodeId: '10.2.0.100:4000',
        transport,
        topology: 'full-mesh',
        clock,
        seeds: watched,
        config: { ...defaultLocalConfig(), seedRefreshMs: 60_000, joinTimeoutMs: 60_000 },
      });
      const errors: SeedResolutionError[] = [];
      membership.on('seed-error', (error) => errors.push(error));
      const joined = membership.join().catch((error: unknown) => error);
      await waitFor(() => silent.queries() > 0, 'the query');
      const sent = silent.queries();
      await membership.leave();
      expect(FoundationError.hasType(await joined, 5902)).toBe(true);
      expect(pending('one-shot') + pending('repeating')).toBe(0);
      expect(outcomes).toHaveLength(1);
      expect(((await outcomes[0]) as Error).name).toBe('AbortError');
      // The resolver would have sent the query again 1 s after the first.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(silent.queries()).toBe(sent);
      expect(errors).toEqual([]);
      expect(transport.contacted.size).toBe(0);
    } finally {
      await silent.close();
    }
  }, 20_000);
});
