// Background traffic, so that a fresh dashboard has something to show: one process in the whole
// cluster (a Foundation singleton, moved to another node when its node dies) writes a sensor
// reading every `traffic.intervalMs` through the same path as an HTTP request: a kv worker
// found by capability, anywhere in the cluster. `traffic.enabled` turns it off cluster-wide.
import type { FoundationNode } from 'foundation';
import type { Routing } from './app-config';
import { callKv } from './kv-service';

type Behavior = Parameters<FoundationNode['defineBehavior']>[1];

export const TRAFFIC_SERVICE = 'demo.traffic';
const TICK = 'tick';
const SENSORS = ['sensor-north', 'sensor-south', 'sensor-east', 'sensor-west', 'sensor-roof'];

export function trafficBehavior(node: FoundationNode): Behavior {
  const setting = <T>(path: string, fallback: T): T => node.config.getWithDefault(path, fallback) as T;
  return {
    init(_args, self) {
      // Registered so the dashboard shows where the singleton runs now; a group name rather than
      // a unique one, because a dead holder's entry may linger on some node until it is purged.
      node.registry.register(TRAFFIC_SERVICE, self.pid, { mode: 'group', capabilities: ['traffic'], serviceType: 'singleton' });
      self.sendAfter(setting('traffic.intervalMs', 1500), self.pid, TICK);
      return { written: 0 };
    },
    async handleMessage(message, self) {
      if (message !== TICK) return;
      const state = self.state as { written: number };
      if (setting('traffic.enabled', true)) {
        const sensor = SENSORS[state.written % SENSORS.length]!;
        const celsius = Math.round((18 + 6 * Math.sin(Date.now() / 60_000 + state.written) + Math.random()) * 10) / 10;
        await callKv(node, { op: 'put', key: sensor, value: { celsius, reading: state.written }, via: node.id }, setting<Routing>('kv.routing', 'round-robin'));
        state.written += 1;
      }
      self.sendAfter(setting('traffic.intervalMs', 1500), self.pid, TICK);
    },
  };
}
