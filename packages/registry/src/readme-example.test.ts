// The README's first example, run as a test so that it stays true. Two departures: the clock is
// a simulation's, so no real timer runs, and the workers' health check answers at once instead
// of fetching from addresses that do not exist here.
import { expect, it } from '@jest/globals';
import { createSimulation } from '@foundation/testkit';
import { AlreadyRegisteredError, createRegistry } from './index';
import type { WatchEvent } from './index';

it('runs the README example', async () => {
  const { clock } = createSimulation({ seed: 1 });
  const check = async (target: string): Promise<boolean> => target.startsWith('tcp://10.0.0.9:');

  const registry = createRegistry<string>({ nodeId: 'node-1', zone: 'eu-west-1a', clock });

  // 1.x: one instance per name; a second registration fails with already_registered (5601).
  registry.register('billing', 'tcp://10.0.0.5:7000', {
    capabilities: ['invoices', 'payments'],
    version: '2.3.1',
    serviceType: 'api',
    metadata: { region: 'eu', tier: { level: 1 } },
    health: { ttlMs: 10_000 }, // passive: degraded without a heartbeat for 10 s, unhealthy after 20 s
  });
  expect(() => registry.register('billing', 'tcp://10.0.0.6:7000')).toThrow(AlreadyRegisteredError);
  expect(registry.lookup('billing')).toBe('tcp://10.0.0.5:7000');

  // Groups: many instances under one name, each with its own health and load.
  for (const port of [8001, 8002, 8003]) {
    const worker = registry.register('pdf-render', `tcp://10.0.0.9:${port}`, {
      mode: 'group',
      capabilities: ['pdf', 'render'],
      version: '3.1.0',
      metadata: { region: 'eu' },
      health: { check, intervalMs: 5000 },
    });
    worker.reportLoad(0);
  }

  // Discovery: all of the capabilities, then filters. Healthy instances only unless asked.
  const found = registry.discover({ capabilities: ['pdf', 'render'], version: '^2 || ^3', metadata: { region: 'eu' } });
  expect(found.map((instance) => instance.target).sort()).toEqual(['tcp://10.0.0.9:8001', 'tcp://10.0.0.9:8002', 'tcp://10.0.0.9:8003']);

  // Routing: round-robin, random, least-loaded, weighted, local-first, consistent-hash.
  const instance = registry.route('pdf-render', { strategy: 'consistent-hash', key: 'customer-42' });
  expect(registry.route('pdf-render', { strategy: 'consistent-hash', key: 'customer-42' }).id).toBe(instance.id);

  // Waiting and watching.
  expect((await registry.waitFor('billing', { timeout: 5000 })).target).toBe('tcp://10.0.0.5:7000');
  const heard: WatchEvent<string>[] = [];
  const stop = registry.watch({ capabilities: ['payments'] }, (event) => heard.push(event));
  registry.unregister('billing');
  stop();
  expect(heard.map((event) => `${event.type} ${event.instance.name}`)).toEqual(['service-down billing']);
  registry.close();
});
