// npm run bench -w @foundation/testkit
import { checkerMilliseconds } from './checker';
import { floorDeliveries, simulationDeliveries } from './deliveries';
import { medianOf, report } from '../../../tooling/scripts/bench';

const DELIVERIES = 2_000_000;

const simulation1k = medianOf(3, () => simulationDeliveries(1000, DELIVERIES, 'full'));
const floor1k = medianOf(3, () => floorDeliveries(1000, DELIVERIES));
const simulation10k = medianOf(3, () => simulationDeliveries(10_000, DELIVERIES, 'full'));
const simulation10kUntraced = medianOf(3, () => simulationDeliveries(10_000, DELIVERIES, 'off'));
const floor10k = medianOf(3, () => floorDeliveries(10_000, DELIVERIES));
let checkerValid: unknown = true;
const checker = medianOf(5, () => {
  const { ms, valid } = checkerMilliseconds(10_000, 100, 42);
  if (valid !== true) checkerValid = valid;
  return ms;
});
if (checkerValid !== true) throw new Error(`the checker rejected a history from an atomic store: ${String(checkerValid)}`);

report(
  'testkit',
  [
    { name: 'simulation, 1,000 nodes, traced', value: simulation1k, unit: 'deliveries/s' },
    { name: 'bare event loop, 1,000 nodes (floor)', value: floor1k, unit: 'deliveries/s' },
    { name: 'simulation, 10,000 nodes, traced', value: simulation10k, unit: 'deliveries/s' },
    { name: 'simulation, 10,000 nodes, trace off', value: simulation10kUntraced, unit: 'deliveries/s' },
    { name: 'bare event loop, 10,000 nodes (floor)', value: floor10k, unit: 'deliveries/s' },
    { name: 'checker, 10,000 ops over 100 keys', value: checker, unit: 'ms', note: 'median of 5' },
  ],
  {
    sim_deliveries_1k_nodes_per_s: Math.round(simulation1k),
    floor_deliveries_1k_nodes_per_s: Math.round(floor1k),
    sim_deliveries_10k_nodes_per_s: Math.round(simulation10k),
    sim_deliveries_10k_nodes_untraced_per_s: Math.round(simulation10kUntraced),
    floor_deliveries_10k_nodes_per_s: Math.round(floor10k),
    checker_10k_ops_100_keys_ms: Math.round(checker * 10) / 10,
  },
  { digits: 2 },
);
