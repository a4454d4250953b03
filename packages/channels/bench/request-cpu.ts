// node ../../tooling/scripts/run-bench.mjs bench/request-cpu.ts [-- --rounds 10 --requests 4000]
//
// CPU per request/reply round trip on a reliable channel (coordination) and on a best-effort one
// (data), both ends in this process, in each connection mode. The difference between the two is
// what reliability costs a round trip (numbering, keeping until acknowledged, acknowledging);
// measured in one process so that the machine's cross-CPU wake-ups, which set the two-process
// round trip in index.ts, do not hide it. Rounds of the two channels alternate; medians over the
// rounds. Also counts the acknowledgements that went in ACK frames of their own and those that
// rode in blocks. Last line JSON.
import { createTransport, defaultChannels } from '../src/index';
import type { ConnectionMode } from '../src/index';
import { median, report } from '../../../tooling/scripts/bench';

const SECRET = 'benchmark-cluster-secret-0123456789';
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const rounds = option('--rounds', 10);
const requests = option('--requests', 4_000);

interface ModeResult {
  reliableUs: number;
  bestEffortUs: number;
  ackFrames: number;
  acksInBlocks: number;
  roundTrips: number;
}

async function measure(connectionMode: ConnectionMode): Promise<ModeResult> {
  const channels = defaultChannels();
  const server = createTransport({ nodeId: 'server', listen: { host: '127.0.0.1', port: 0 }, security: { secret: SECRET }, channels, connectionMode });
  await server.ready();
  const client = createTransport({ nodeId: 'client', security: { secret: SECRET }, channels, connectionMode });
  try {
    const up = new Promise<void>((resolve) => client.on('peer-up', () => resolve()));
    client.connect(server.address()!.url);
    await up;
    server.onRequest('coordination', () => 'pong');
    server.onRequest('data', () => 'pong');
    const run = async (channel: string, count: number): Promise<number> => {
      const before = process.cpuUsage();
      for (let index = 0; index < count; index += 1) await client.request('server', channel, 'ping');
      const used = process.cpuUsage(before);
      return (used.user + used.system) / count;
    };
    await run('coordination', requests);
    await run('data', requests);
    const acks = (): { frames: number; inBlocks: number } => {
      // Undefined before protocol version 6 (no acknowledgements in blocks): NaN in the report.
      const stats = [client.stats(), server.stats()] as unknown as { ackFramesSent?: number; acksInBlocks?: number }[];
      return { frames: stats.reduce((sum, item) => sum + (item.ackFramesSent ?? Number.NaN), 0), inBlocks: stats.reduce((sum, item) => sum + (item.acksInBlocks ?? Number.NaN), 0) };
    };
    const reliable: number[] = [];
    const bestEffort: number[] = [];
    const start = acks();
    for (let round = 0; round < rounds; round += 1) {
      reliable.push(await run('coordination', requests));
      bestEffort.push(await run('data', requests));
    }
    const end = acks();
    return { reliableUs: median(reliable), bestEffortUs: median(bestEffort), ackFrames: end.frames - start.frames, acksInBlocks: end.inBlocks - start.inBlocks, roundTrips: rounds * requests };
  } finally {
    await client.close();
    await server.close();
  }
}

async function main(): Promise<void> {
  const channels = await measure('per-channel');
  const single = await measure('single');
  const round = (value: number): number => Math.round(value * 10) / 10;
  const rows = [
    { name: 'CPU per round trip, reliable (channels)', value: channels.reliableUs, unit: 'µs' },
    { name: 'CPU per round trip, best effort (channels)', value: channels.bestEffortUs, unit: 'µs' },
    { name: 'reliable minus best effort (channels)', value: channels.reliableUs - channels.bestEffortUs, unit: 'µs' },
    { name: 'ACK frames per reliable round trip (channels)', value: channels.ackFrames / channels.roundTrips, unit: '', note: `${channels.acksInBlocks} acknowledgements in blocks` },
    { name: 'CPU per round trip, reliable (single)', value: single.reliableUs, unit: 'µs' },
    { name: 'CPU per round trip, best effort (single)', value: single.bestEffortUs, unit: 'µs' },
    { name: 'reliable minus best effort (single)', value: single.reliableUs - single.bestEffortUs, unit: 'µs' },
    { name: 'ACK frames per reliable round trip (single)', value: single.ackFrames / single.roundTrips, unit: '', note: `${single.acksInBlocks} acknowledgements in blocks` },
  ];
  report('channels.request-cpu', rows, {
    reliable_cpu_us: round(channels.reliableUs),
    best_effort_cpu_us: round(channels.bestEffortUs),
    reliable_single_cpu_us: round(single.reliableUs),
    best_effort_single_cpu_us: round(single.bestEffortUs),
    ack_frames_per_round_trip: Math.round((channels.ackFrames / channels.roundTrips) * 1000) / 1000,
    ack_frames_single_per_round_trip: Math.round((single.ackFrames / single.roundTrips) * 1000) / 1000,
  }, { digits: 2 });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
