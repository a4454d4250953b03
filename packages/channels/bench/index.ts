// npm run bench -w @foundation/channels
//
// Two processes on loopback: this one dials, a child (the same bundle with --peer) listens.
// Each figure is measured in the default mode (a connection per channel lane, 64 KiB chunks)
// and in single-connection mode (every channel on one connection, no chunking) as the in-run
// baseline. A bare ws echo between the same two processes gives the floor under the round
// trips and under the cost of a one-off connection. Options: --quick (shorter runs),
// --only throughput|rtt|hol|connect, --hol-from-peer (bulk towards this process under the
// head-of-line measurement), --bulk-rate MB/s (bulk paced instead of as fast as it goes),
// --thread on|off (this process's bulk channel option `thread`), --skip-single.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';
import { createTransport } from '../src/index';
import type { Transport } from '../src/index';
import { BENCH_SECRET, benchChannels, modeOptions, runPeer, streamBulk } from './peer';
import { percentile, report } from '../../../tooling/scripts/bench';

const args = process.argv.slice(2);
const peerIndex = args.indexOf('--peer');
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
// Under bulk, bulk flows from the listening peer to this (dialing) process instead of the other way.
const holFromPeer = args.includes('--hol-from-peer');
// Bulk paced at this many MB/s instead of as fast as it goes (--bulk-rate 100).
const bulkRate = args.includes('--bulk-rate') ? Number(args[args.indexOf('--bulk-rate') + 1]) : undefined;
// The dialer's bulk channel: `--thread on|off` sets its `thread` option (default: the channel's default).
const threadArgument = args.includes('--thread') ? args[args.indexOf('--thread') + 1] : undefined;
const thread = threadArgument === undefined ? undefined : threadArgument === 'on';

async function startPeer(mode: string): Promise<{ child: ChildProcess; url: string; echoUrl: string }> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, '--peer', mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const { url, echoUrl } = await new Promise<{ url: string; echoUrl: string }>((resolve, reject) => {
    // Other lines (node's --trace-gc and the like, from BENCH_NODE_ARGS) go to stderr.
    lines.on('line', (line) => {
      if (line.startsWith('{"url"')) resolve(JSON.parse(line) as { url: string; echoUrl: string });
      else process.stderr.write(`[peer] ${line}\n`);
    });
    child.once('exit', (code) => reject(new Error(`peer exited with ${code}`)));
  });
  return { child, url, echoUrl };
}

/** Dials `url` and waits for the peer to come up. */
async function dialAndWait(transport: Transport, url: string): Promise<void> {
  const up = new Promise<void>((resolve) => {
    const off = transport.on('peer-up', () => {
      off();
      resolve();
    });
  });
  transport.connect(url);
  await up;
}

async function connect(mode: string, url: string): Promise<Transport> {
  const transport = createTransport({ nodeId: 'bench-driver', security: { secret: BENCH_SECRET }, channels: benchChannels(thread), ...modeOptions(mode) });
  await dialAndWait(transport, url);
  return transport;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function throughput(transport: Transport, messages: number): Promise<number> {
  await transport.request('bench-peer', 'coordination', { op: 'reset' });
  const payload = { type: 'tick', node: 'bench-driver', n: 0 };
  const started = performance.now();
  let sent = 0;
  while (sent < messages) {
    const burst = Math.min(sent + 4096, messages);
    while (sent < burst) {
      payload.n = sent;
      if (!transport.send('bench-peer', 'data', payload)) break;
      sent += 1;
    }
    await turn();
  }
  await transport.request('bench-peer', 'coordination', { op: 'count', target: messages }, { timeout: 120_000 });
  return messages / ((performance.now() - started) / 1000);
}

async function roundTrips(transport: Transport, samples: number): Promise<number[]> {
  const results: number[] = [];
  for (let index = 0; index < samples; index += 1) {
    const started = performance.now();
    await transport.request('bench-peer', 'coordination', { op: 'ping' });
    results.push((performance.now() - started) * 1000);
  }
  return results;
}

/** A bare ws client of the peer's echo server: 32-byte round trips, the floor under `roundTrips`. */
async function openEcho(url: string): Promise<{ roundTrips: (samples: number) => Promise<number[]>; close: () => void }> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const message = Buffer.alloc(32, 1);
  return {
    async roundTrips(samples) {
      const results: number[] = [];
      for (let index = 0; index < samples; index += 1) {
        const started = performance.now();
        await new Promise<void>((resolve) => {
          socket.once('message', () => resolve());
          socket.send(message);
        });
        results.push((performance.now() - started) * 1000);
      }
      return results;
    },
    close: () => socket.terminate(),
  };
}

async function headOfLine(transport: Transport, durationMs: number): Promise<{ rtts: number[]; bulkMbPerS: number }> {
  const message = Buffer.alloc(8 * 1024 * 1024, 0x5a);
  let streaming = true;
  let receivedBytes = 0;
  transport.onMessage('bulk', ({ payload }) => {
    receivedBytes += (payload as Uint8Array).length;
  });
  const stream = holFromPeer
    ? transport.request('bench-peer', 'coordination', { op: 'bulk-stream', on: true, ...(bulkRate === undefined ? {} : { rateMbPerS: bulkRate }) })
    : streamBulk(() => streaming, bulkRate, () => transport.sendAsync('bench-peer', 'bulk', message));
  const bulkBytes = async (): Promise<number> => (holFromPeer ? receivedBytes : ((await transport.request('bench-peer', 'coordination', { op: 'bulk-bytes' }, { timeout: 60_000 })) as number));
  // Let the bulk stream reach full speed first.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const startBytes = await bulkBytes();
  const started = performance.now();
  const rtts: number[] = [];
  while (performance.now() - started < durationMs) {
    const sent = performance.now();
    await transport.request('bench-peer', 'coordination', { op: 'ping' }, { timeout: 60_000 });
    rtts.push((performance.now() - sent) * 1000);
  }
  const endBytes = await bulkBytes();
  const elapsed = (performance.now() - started) / 1000;
  streaming = false;
  if (holFromPeer) await transport.request('bench-peer', 'coordination', { op: 'bulk-stream', on: false }, { timeout: 60_000 });
  await stream.catch(() => undefined);
  return { rtts: rtts.sort((a, b) => a - b), bulkMbPerS: (endBytes - startBytes) / elapsed / 1e6 };
}

/**
 * A one-off exchange, as a membership's shuffle reply or a JOIN to a stranger makes: a second
 * transport of this process dials the peer by URL, sends one request and gets its reply, and
 * disconnects; then the same with a bare ws connection to the peer's echo server. CPU of both
 * processes (user and system) and wall time per round, the two alternating in rounds.
 */
async function oneOffConnections(mode: string, url: string, echoUrl: string, rounds: number): Promise<{ cpuMs: number; wallMs: number; echoCpuMs: number; echoWallMs: number }> {
  const dialer = createTransport({ nodeId: 'bench-dialer', security: { secret: BENCH_SECRET }, channels: benchChannels(), ...modeOptions(mode) });
  const peerCpu = async (): Promise<number> => (await dialer.request('bench-peer', 'coordination', { op: 'cpu' })) as number;
  const open = (): Promise<void> => dialAndWait(dialer, url);
  const transportRound = async (): Promise<void> => {
    await open();
    await dialer.request('bench-peer', 'coordination', { op: 'ping' });
    dialer.disconnect('bench-peer');
  };
  const echoRound = async (): Promise<void> => {
    const socket = new WebSocket(echoUrl, { perMessageDeflate: false });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    await new Promise<void>((resolve) => {
      socket.once('message', () => resolve());
      socket.send(Buffer.alloc(32, 1));
    });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.close();
    await closed;
  };
  // Measures `count` rounds of `run`. The peer's CPU is read over a session of its own before and
  // after them, so the peer's figure includes one session more than the rounds (under 1% here).
  const timed = async (run: () => Promise<void>, count: number): Promise<{ cpuMicros: number; wallMs: number }> => {
    await open();
    const peerBefore = await peerCpu();
    dialer.disconnect('bench-peer');
    const before = process.cpuUsage();
    const started = performance.now();
    for (let index = 0; index < count; index += 1) await run();
    const wallMs = performance.now() - started;
    const own = process.cpuUsage(before);
    await open();
    const peerAfter = await peerCpu();
    dialer.disconnect('bench-peer');
    return { cpuMicros: own.user + own.system + (peerAfter - peerBefore), wallMs };
  };
  for (let index = 0; index < Math.min(100, rounds); index += 1) {
    await transportRound();
    await echoRound();
  }
  let cpu = 0;
  let wall = 0;
  let echoCpu = 0;
  let echoWall = 0;
  const perRound = Math.ceil(rounds / 5);
  for (let round = 0; round < 5; round += 1) {
    const ours = await timed(transportRound, perRound);
    const bare = await timed(echoRound, perRound);
    cpu += ours.cpuMicros;
    wall += ours.wallMs;
    echoCpu += bare.cpuMicros;
    echoWall += bare.wallMs;
  }
  await dialer.close();
  const count = perRound * 5;
  return { cpuMs: cpu / 1000 / count, wallMs: wall / count, echoCpuMs: echoCpu / 1000 / count, echoWallMs: echoWall / count };
}

interface ModeResult {
  throughputPerS: number;
  rtt: number[];
  echoRtt: number[];
  hol: { rtts: number[]; bulkMbPerS: number };
  oneOff: { cpuMs: number; wallMs: number; echoCpuMs: number; echoWallMs: number };
}

async function measure(mode: string): Promise<ModeResult> {
  const { child, url, echoUrl } = await startPeer(mode);
  try {
    const transport = await connect(mode, url);
    const messages = quick ? 500_000 : 2_000_000;
    let throughputPerS = Number.NaN;
    if (only === undefined || only === 'throughput') {
      await throughput(transport, 200_000); // warm-up
      throughputPerS = await throughput(transport, messages);
    }
    const rtt: number[] = [];
    const echoRtt: number[] = [];
    if (only === undefined || only === 'rtt') {
      // In rounds that alternate with the bare echo, so that both meet the same scheduling:
      // on a VM the two processes' placement on one or two vCPUs moves the floor by 4x.
      const echo = await openEcho(echoUrl);
      await roundTrips(transport, 2_000); // warm-up
      await echo.roundTrips(2_000);
      const perRound = (quick ? 5_000 : 20_000) / 10;
      for (let round = 0; round < 10; round += 1) {
        rtt.push(...(await roundTrips(transport, perRound)));
        echoRtt.push(...(await echo.roundTrips(perRound)));
      }
      echo.close();
      rtt.sort((a, b) => a - b);
      echoRtt.sort((a, b) => a - b);
    }
    const hol = only === undefined || only === 'hol' ? await headOfLine(transport, quick ? 2_000 : 5_000) : { rtts: [], bulkMbPerS: Number.NaN };
    const oneOff = only === undefined || only === 'connect' ? await oneOffConnections(mode, url, echoUrl, quick ? 250 : 1_000) : { cpuMs: Number.NaN, wallMs: Number.NaN, echoCpuMs: Number.NaN, echoWallMs: Number.NaN };
    await transport.close();
    return { throughputPerS, rtt, echoRtt, hol, oneOff };
  } finally {
    // SIGTERM first, so that a peer run with BENCH_NODE_ARGS (--cpu-prof) writes its profile.
    if (child.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3_000).unref())]);
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    }
  }
}

function emptyResult(): ModeResult {
  return { throughputPerS: Number.NaN, rtt: [], echoRtt: [], hol: { rtts: [], bulkMbPerS: Number.NaN }, oneOff: { cpuMs: Number.NaN, wallMs: Number.NaN, echoCpuMs: Number.NaN, echoWallMs: Number.NaN } };
}

async function main(): Promise<void> {
  const channels = await measure('per-channel');
  // --skip-single: the default mode only (for profiles of one mode); the single rows are then empty.
  const single = args.includes('--skip-single') ? emptyResult() : await measure('single');
  const rows = [
    { name: 'throughput, small messages one way (channels)', value: channels.throughputPerS, unit: 'msg/s' },
    { name: 'throughput, small messages one way (single)', value: single.throughputPerS, unit: 'msg/s' },
    { name: 'rtt idle p50 (channels)', value: percentile(channels.rtt, 0.5), unit: 'µs' },
    { name: 'rtt idle p99 (channels)', value: percentile(channels.rtt, 0.99), unit: 'µs' },
    { name: 'rtt idle p50 (single)', value: percentile(single.rtt, 0.5), unit: 'µs' },
    { name: 'rtt idle p99 (single)', value: percentile(single.rtt, 0.99), unit: 'µs' },
    { name: 'rtt idle p50 (bare ws echo, channels run)', value: percentile(channels.echoRtt, 0.5), unit: 'µs' },
    { name: 'rtt idle p99 (bare ws echo, channels run)', value: percentile(channels.echoRtt, 0.99), unit: 'µs' },
    { name: 'rtt idle p50 (bare ws echo, single run)', value: percentile(single.echoRtt, 0.5), unit: 'µs' },
    { name: 'hol coordination rtt p50 (channels)', value: percentile(channels.hol.rtts, 0.5), unit: 'µs' },
    { name: 'hol coordination rtt p99 (channels)', value: percentile(channels.hol.rtts, 0.99), unit: 'µs' },
    { name: 'hol coordination rtt max (channels)', value: percentile(channels.hol.rtts, 1), unit: 'µs', note: `${channels.hol.rtts.length} samples` },
    { name: 'hol bulk goodput (channels)', value: channels.hol.bulkMbPerS, unit: 'MB/s' },
    { name: 'hol coordination rtt p50 (single)', value: percentile(single.hol.rtts, 0.5), unit: 'µs' },
    { name: 'hol coordination rtt p99 (single)', value: percentile(single.hol.rtts, 0.99), unit: 'µs' },
    { name: 'hol coordination rtt max (single)', value: percentile(single.hol.rtts, 1), unit: 'µs', note: `${single.hol.rtts.length} samples` },
    { name: 'hol bulk goodput (single)', value: single.hol.bulkMbPerS, unit: 'MB/s' },
    { name: 'one-off connection, CPU of both ends (channels)', value: channels.oneOff.cpuMs * 1000, unit: 'µs', note: `${(channels.oneOff.wallMs * 1000).toFixed(0)} µs wall; ${Object.values(benchChannels()).reduce((total, channel) => total + (channel.parallelism ?? 1), 0)} lanes, their connections opened on demand` },
    { name: 'one-off connection, CPU of both ends (single)', value: single.oneOff.cpuMs * 1000, unit: 'µs', note: `${(single.oneOff.wallMs * 1000).toFixed(0)} µs wall` },
    { name: 'one-off connection, CPU of both ends (bare ws)', value: channels.oneOff.echoCpuMs * 1000, unit: 'µs', note: `${(channels.oneOff.echoWallMs * 1000).toFixed(0)} µs wall` },
  ];
  const round = (value: number): number => Math.round(value * 10) / 10;
  report('channels', rows, {
    throughput_per_s: Math.round(channels.throughputPerS),
    throughput_single_per_s: Math.round(single.throughputPerS),
    rtt_p50_us: round(percentile(channels.rtt, 0.5)),
    rtt_p99_us: round(percentile(channels.rtt, 0.99)),
    rtt_single_p50_us: round(percentile(single.rtt, 0.5)),
    rtt_single_p99_us: round(percentile(single.rtt, 0.99)),
    rtt_echo_p50_us: round(percentile(channels.echoRtt, 0.5)),
    rtt_echo_p99_us: round(percentile(channels.echoRtt, 0.99)),
    rtt_echo_single_p50_us: round(percentile(single.echoRtt, 0.5)),
    hol_rtt_p50_us: round(percentile(channels.hol.rtts, 0.5)),
    hol_rtt_p99_us: round(percentile(channels.hol.rtts, 0.99)),
    hol_rtt_max_us: round(percentile(channels.hol.rtts, 1)),
    hol_bulk_mb_per_s: round(channels.hol.bulkMbPerS),
    hol_single_rtt_p50_us: round(percentile(single.hol.rtts, 0.5)),
    hol_single_rtt_p99_us: round(percentile(single.hol.rtts, 0.99)),
    hol_single_rtt_max_us: round(percentile(single.hol.rtts, 1)),
    hol_single_bulk_mb_per_s: round(single.hol.bulkMbPerS),
    connect_cpu_us: round(channels.oneOff.cpuMs * 1000),
    connect_single_cpu_us: round(single.oneOff.cpuMs * 1000),
    connect_echo_cpu_us: round(channels.oneOff.echoCpuMs * 1000),
  });
}

if (peerIndex >= 0) {
  void runPeer(args[peerIndex + 1] ?? 'per-channel');
} else {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
