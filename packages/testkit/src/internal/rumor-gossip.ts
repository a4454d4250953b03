// A small push gossip protocol used by the determinism tests and the benchmarks: node 0 starts
// a new rumor (a version number) every `rumorEveryMs`; every node pushes the newest version it
// knows to `fanout` random peers every `roundMs`, starting at a random offset.
import type { Simulation } from '../simulation/types';

export interface RumorGossipOptions {
  readonly nodes: number;
  readonly fanout?: number;
  readonly roundMs?: number;
  readonly rumorEveryMs?: number;
}

export interface RumorGossip {
  readonly ids: readonly string[];
  /** How many nodes know version `version` or newer. */
  informed(version: number): number;
  latestVersion(): number;
}

export function installRumorGossip(simulation: Simulation, options: RumorGossipOptions): RumorGossip {
  const fanout = options.fanout ?? 3;
  const roundMs = options.roundMs ?? 100;
  const rumorEveryMs = options.rumorEveryMs ?? 200;
  const ids = Array.from({ length: options.nodes }, (_, index) => `n${index}`);
  const versions = new Map<string, number>();
  let latest = 0;
  for (const id of ids) {
    simulation.addNode(id, {
      start: ({ clock, random, transport }) => {
        versions.set(id, 0);
        transport.onMessage('gossip', (message) => {
          const version = message.payload as { v: number };
          if (version.v > (versions.get(id) ?? 0)) versions.set(id, version.v);
        });
        clock.setTimer(random.float() * roundMs, () => {
          clock.setRepeatingTimer(roundMs, () => {
            const known = versions.get(id) ?? 0;
            if (known === 0) return;
            for (let push = 0; push < fanout; push += 1) {
              const peer = ids[random.int(0, ids.length)]!;
              if (peer !== id) transport.send(peer, 'gossip', { v: known });
            }
          });
        });
        if (id === ids[0]) {
          clock.setRepeatingTimer(rumorEveryMs, () => {
            latest += 1;
            versions.set(id, latest);
          });
        }
      },
    });
  }
  return {
    ids,
    informed: (version) => ids.filter((id) => (versions.get(id) ?? 0) >= version).length,
    latestVersion: () => latest,
  };
}
