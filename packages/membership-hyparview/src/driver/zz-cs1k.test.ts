import { it } from '@jest/globals';
import { createSimCluster } from '../internal/sim-cluster';

it('probe', () => {
  const started = Date.now();
  for (const shared of [false, true]) {
    const seedsFor = shared ? (index: number, all: readonly string[]) => all.slice(0, 3).filter((_, position) => position !== index) : undefined;
    const nodes = 1000;
    const cluster = createSimCluster({ seed: 31, nodes, joinSpacingMs: 5, topology: 'client-server', trace: 'off', ...(seedsFor ? { seedsFor } : {}) });
    const lines: string[] = [];
    let last = 0;
    for (let second = 1; second <= 60; second += 1) {
      cluster.simulation.runFor(1000);
      const delivered = cluster.simulation.network.stats().delivered;
      const servers = cluster.live().filter((id) => cluster.membership(id).topology().role === 'server').length;
      if (second % 5 === 0 || second <= 2) lines.push(`t=${second}s servers=${servers} msgs/s=${delivered - last} wall=${Date.now() - started}`);
      last = delivered;
      if (second === 40) {
        const record = cluster.broadcast('n3');
        cluster.simulation.runFor(1000);
        lines.push(`rel ${cluster.reliability(record)} crash half`);
        cluster.crash(cluster.ids.filter((_, index) => index % 2 === 0));
      }
    }
    const record = cluster.broadcast('n3');
    cluster.simulation.runFor(2000);
    lines.push(`reliability ${cluster.reliability(record)}`);
    console.log(`${nodes}${shared ? ' shared' : ' chain'}:\n${lines.join('\n')}`);
  }
});
