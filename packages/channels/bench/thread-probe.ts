// node ../../tooling/scripts/run-bench.mjs bench/thread-probe.ts [-- --rounds 3 --seconds 5]
//
// The question behind docs/decisions/0002: would a worker thread for bulk reads bring the round
// trip under bulk to 1 ms? Measured without the transport, with bare `ws`, so that only the
// thread placement differs. A child process streams 64 KiB frames (at most 2 MiB buffered,
// 256 KiB per turn) on one connection and echoes 32-byte pings on another. This process pings
// from its main thread while it receives the stream, copying frames into 8 MiB messages and
// reading at most 256 KiB per turn, either
//   main:   on the main thread, or
//   worker: in a worker thread, each finished message transferred (not copied) to the main thread.
// Modes alternate, each against a fresh child. Last line JSON.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { percentile, report } from '../../../tooling/scripts/bench';

const MESSAGE_BYTES = 8 * 1024 * 1024;
const FRAME_BYTES = 64 * 1024 + 16;
const TURN_BYTES = 256 * 1024;
const BUFFERED_BYTES = 2 * 1024 * 1024;

function sender(): void {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  const frame = Buffer.alloc(FRAME_BYTES, 0x5a);
  server.on('connection', (socket, request) => {
    if (request.url === '/ping') {
      socket.on('message', (data: RawData) => socket.send(data as Buffer));
      return;
    }
    const pump = (): void => {
      if (socket.readyState !== socket.OPEN) return;
      let budget = TURN_BYTES;
      while (budget > 0 && socket.bufferedAmount < BUFFERED_BYTES) {
        socket.send(frame);
        budget -= frame.length;
      }
      if (socket.bufferedAmount >= BUFFERED_BYTES) setTimeout(pump, 0);
      else setImmediate(pump);
    };
    pump();
  });
  server.on('listening', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`));
}

/** Receives the stream: 8 MiB messages out of 64 KiB frames, at most TURN_BYTES read per turn. */
function receiveBulk(port: number, onMessage: (message: Buffer) => void): void {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/bulk`, { perMessageDeflate: false });
  let message = Buffer.allocUnsafeSlow(MESSAGE_BYTES);
  let filled = 0;
  let turn = 0;
  let turnScheduled = false;
  let paused = false;
  socket.on('message', (data: Buffer) => {
    turn += data.length;
    if (!turnScheduled) {
      turnScheduled = true;
      setImmediate(() => {
        turnScheduled = false;
        turn = 0;
        if (paused) {
          paused = false;
          socket.resume();
        }
      });
    }
    if (turn >= TURN_BYTES && !paused) {
      paused = true;
      socket.pause();
    }
    const length = Math.min(data.length, MESSAGE_BYTES - filled);
    data.copy(message, filled, 0, length);
    filled += length;
    if (filled === MESSAGE_BYTES) {
      onMessage(message);
      message = Buffer.allocUnsafeSlow(MESSAGE_BYTES);
      filled = 0;
    }
  });
}

async function startSender(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [process.argv[1]!, '--sender'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolve, reject) => {
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`sender exited with ${code}`)));
  });
  return { child, port };
}

interface Sample {
  rtts: number[];
  megabytesPerSecond: number;
}

async function measure(mode: 'main' | 'worker', seconds: number): Promise<Sample> {
  const { child, port } = await startSender();
  let received = 0;
  let worker: Worker | undefined;
  if (mode === 'worker') {
    worker = new Worker(new URL(import.meta.url), { workerData: { port } });
    worker.on('message', (buffer: ArrayBuffer) => {
      received += buffer.byteLength;
    });
  } else {
    receiveBulk(port, (message) => {
      received += message.length;
    });
  }
  const ping = new WebSocket(`ws://127.0.0.1:${port}/ping`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ping.once('open', resolve);
    ping.once('error', reject);
  });
  await new Promise((resolve) => setTimeout(resolve, 500)); // the stream reaches full speed
  const payload = Buffer.alloc(32, 1);
  const rtts: number[] = [];
  const startBytes = received;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    const sent = performance.now();
    await new Promise<void>((resolve) => {
      ping.once('message', () => resolve());
      ping.send(payload);
    });
    rtts.push((performance.now() - sent) * 1000);
  }
  const megabytesPerSecond = (received - startBytes) / ((performance.now() - started) / 1000) / 1e6;
  ping.terminate();
  await worker?.terminate();
  child.kill('SIGKILL');
  return { rtts: rtts.sort((a, b) => a - b), megabytesPerSecond };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
  const rounds = option('--rounds', 3);
  const seconds = option('--seconds', 5);
  const rows = [];
  const metrics: Record<string, number> = {};
  const all: Record<'main' | 'worker', Sample[]> = { main: [], worker: [] };
  for (let round = 1; round <= rounds; round += 1) {
    for (const mode of ['main', 'worker'] as const) {
      const sample = await measure(mode, seconds);
      all[mode].push(sample);
      const note = `round ${round}, ${sample.rtts.length} samples, ${Math.round(sample.megabytesPerSecond)} MB/s`;
      rows.push({ name: `ping under bulk, bulk read on ${mode} thread, p50`, value: percentile(sample.rtts, 0.5), unit: 'µs', note });
      rows.push({ name: `ping under bulk, bulk read on ${mode} thread, p99`, value: percentile(sample.rtts, 0.99), unit: 'µs' });
    }
  }
  for (const mode of ['main', 'worker'] as const) {
    const medianOf = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    metrics[`${mode}_p50_us`] = Math.round(medianOf(all[mode].map((sample) => percentile(sample.rtts, 0.5))));
    metrics[`${mode}_p99_us`] = Math.round(medianOf(all[mode].map((sample) => percentile(sample.rtts, 0.99))));
    metrics[`${mode}_mb_per_s`] = Math.round(medianOf(all[mode].map((sample) => sample.megabytesPerSecond)));
  }
  report('channels.thread-probe', rows, metrics);
}

if (!isMainThread) {
  const { port } = workerData as { port: number };
  receiveBulk(port, (message) => parentPort!.postMessage(message.buffer, [message.buffer as ArrayBuffer]));
} else if (process.argv.includes('--sender')) {
  sender();
} else {
  // As the other benchmarks do: a rejection of the top-level await ends the run non-zero.
  await main();
  process.exit(0);
}
