// The README's first example, run as a test so that it stays true; what it logs is collected here.
import { expect, it } from '@jest/globals';
import { createSimulation } from '@foundation/testkit';
import { createMembership, defaultLocalConfig } from './index';
import type { Membership } from './index';

it('runs the README example', () => {
  const logged: string[] = [];
  const simulation = createSimulation({ seed: 1 });
  const nodes = new Map<string, Membership>();
  for (const id of ['a', 'b', 'c']) {
    simulation.addNode(id, {
      start: ({ clock, random, transport }) => {
        const membership = createMembership({
          nodeId: id,
          transport,
          clock,
          random,
          seeds: id === 'a' ? [] : ['a'],
          config: defaultLocalConfig(),
        });
        membership.on('member-join', (member) => logged.push(`${id}: ${member} joined`));
        membership.subscribe('orders', ({ from, payload }) => logged.push(`${id} got ${new TextDecoder().decode(payload as Uint8Array)} from ${from}`));
        void membership.join();
        nodes.set(id, membership);
      },
    });
  }
  simulation.runFor(2_000);
  expect(logged.filter((line) => line.endsWith('joined')).sort()).toEqual(['a: b joined', 'a: c joined', 'b: a joined', 'b: c joined', 'c: a joined', 'c: b joined']);
  nodes.get('c')!.broadcast('orders', new TextEncoder().encode('order 42'));
  simulation.runFor(500); // a and b print "got ... from c"
  expect(logged.filter((line) => line.includes(' got ')).sort()).toEqual(['a got order 42 from c', 'b got order 42 from c']);
  expect(nodes.get('a')!.topology()).toMatchObject({ mode: 'full-mesh', epoch: 0 }); // 3 nodes
});
