import { it } from '@jest/globals';
import { createSimCluster } from '../src/internal/sim-cluster';
it('probe', () => {
  const lines: string[] = [];
  (globalThis as any).__pair = (a: string, b: string) => (a === 'n22' && b === 'n23') || (a === 'n23' && b === 'n22');
  (globalThis as any).__log = (line: string) => lines.push(line);
  const nodes = 25;
  const cluster = createSimCluster({ seed: 223428, nodes, joinSpacingMs: 3, config: { hyparview: { activeViewSize: 4, passiveViewSize: 12 } } });
  cluster.simulation.runFor(nodes * 3 + 1_500);
  cluster.simulation.runFor(6_600);
  console.log(lines.filter((l) => !l.includes('"shuffle')).join('\n'));
}, 60_000);
