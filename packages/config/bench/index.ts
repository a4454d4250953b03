// npm run bench -w @foundation/config
//
// config.get(path) against in-run baselines: a plain nested property read with the same
// (dynamic) keys, and a Map lookup by the dotted string. The target is 10M gets/s.
import { createConfig } from '@foundation/config';
import { z } from 'zod';
import { medianOf, rate, report } from '../../../tooling/scripts/bench';

const READS = 20_000_000;
const UPDATES = 200_000;

const schema = z.object({
  server: z.object({ http: z.object({ port: z.number().int(), host: z.string() }), workers: z.number().int().positive() }),
  telemetry: z.object({ samplingRate: z.number().min(0).max(1), exporter: z.object({ url: z.string(), batch: z.number() }) }),
  dev: z.object({ debugMode: z.boolean(), verbose: z.boolean() }),
});
const defaults = {
  server: { http: { port: 4000, host: 'localhost' }, workers: 4 },
  telemetry: { samplingRate: 0.5, exporter: { url: 'http://collector:4318', batch: 512 } },
  dev: { debugMode: false, verbose: false },
};
const config = createConfig({ defaults, schema, updatablePaths: ['telemetry.samplingRate'] });

const dotted = [
  'server.http.port',
  'server.http.host',
  'telemetry.exporter.url',
  'telemetry.exporter.batch',
  'telemetry.samplingRate',
  'dev.debugMode',
  'server.workers',
  'dev.verbose',
];
const arrays = dotted.map((path) => path.split('.'));
const plain = structuredClone(defaults) as unknown as Record<string, unknown>;
const flat = new Map<string, unknown>(dotted.map((path) => [path, config.get(path)]));

// Sanity: every way of reading gives the same values.
for (let index = 0; index < dotted.length; index += 1) {
  let node: unknown = plain;
  for (const key of arrays[index]!) node = (node as Record<string, unknown>)[key];
  if (config.get(dotted[index]!) !== node || config.get(arrays[index]!) !== node) throw new Error(`mismatch at ${dotted[index]}`);
}

const getDotted = medianOf(5, () => rate(READS, (index) => config.get(dotted[index & 7]!)));
const getArray = medianOf(5, () => rate(READS, (index) => config.get(arrays[index & 7]!)));
const getWhole = medianOf(5, () => rate(READS, () => config.get()));
const plainRead = medianOf(5, () =>
  rate(READS, (index) => {
    let node: unknown = plain;
    for (const key of arrays[index & 7]!) node = (node as Record<string, unknown>)[key];
    return node;
  }),
);
const mapRead = medianOf(5, () => rate(READS, (index) => flat.get(dotted[index & 7]!)));
const updates = medianOf(3, () => rate(UPDATES, (index) => config.update('telemetry.samplingRate', (index % 100) / 100)));

report(
  'config',
  [
    { name: 'config.get(dotted path)', value: getDotted, unit: 'gets/s', note: 'target 10M/s' },
    { name: 'config.get(array path)', value: getArray, unit: 'gets/s' },
    { name: 'config.get() whole snapshot', value: getWhole, unit: 'gets/s' },
    { name: 'baseline: plain nested property read', value: plainRead, unit: 'reads/s' },
    { name: 'baseline: Map.get(dotted path)', value: mapRead, unit: 'reads/s' },
    { name: 'config.update (zod, whole-config validation)', value: updates, unit: 'updates/s' },
  ],
  {
    get_dotted_per_s: Math.round(getDotted),
    get_array_per_s: Math.round(getArray),
    get_whole_per_s: Math.round(getWhole),
    baseline_plain_read_per_s: Math.round(plainRead),
    baseline_map_get_per_s: Math.round(mapRead),
    update_per_s: Math.round(updates),
  },
  { digits: 2 },
);
