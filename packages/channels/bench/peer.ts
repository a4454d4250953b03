// The other process of every benchmark: listens, counts what arrives, answers requests.
// Started by index.ts as `node <bundle> --peer <mode>`; prints its URLs as one JSON line.
import { WebSocketServer } from 'ws';
import { createTransport, defaultChannels } from '../src/index';
import type { ConnectionMode } from '../src/index';

export const BENCH_SECRET = 'benchmark-cluster-secret-0123456789';

export function benchChannels(thread?: boolean): ReturnType<typeof defaultChannels> {
  const channels = defaultChannels();
  // Bound bulk memory: at most four 8 MiB messages queued.
  return { ...channels, bulk: { ...channels.bulk, maxQueueBytes: 32 * 1024 * 1024, windowBytes: 2 * 1024 * 1024, ...(thread === undefined ? {} : { thread }) } };
}

/**
 * Sends bulk messages back to back while `going()`, or paced at `rateMbPerS` (a message when the
 * rate allows the next one, so that the stream does not take all the CPU the machine has).
 */
export async function streamBulk(going: () => boolean, rateMbPerS: number | undefined, send: () => Promise<void>): Promise<void> {
  const started = performance.now();
  let sentBytes = 0;
  while (going()) {
    if (rateMbPerS !== undefined) {
      const due = started + (sentBytes / (rateMbPerS * 1e6)) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    try {
      await send();
    } catch {
      return;
    }
    sentBytes += 8 * 1024 * 1024;
  }
}

export function modeOptions(mode: string): { connectionMode: ConnectionMode; limits: { chunkBytes: number } } {
  return mode === 'single' ? { connectionMode: 'single', limits: { chunkBytes: Number.POSITIVE_INFINITY } } : { connectionMode: 'per-channel', limits: { chunkBytes: 64 * 1024 } };
}

export async function runPeer(mode: string): Promise<void> {
  const transport = createTransport({
    nodeId: 'bench-peer',
    listen: { host: '127.0.0.1', port: 0 },
    security: { secret: BENCH_SECRET },
    channels: benchChannels(),
    ...modeOptions(mode),
  });
  await transport.ready();
  let dataCount = 0;
  let bulkBytes = 0;
  const waiters: { target: number; resolve: (count: number) => void }[] = [];
  transport.onMessage('data', () => {
    dataCount += 1;
    if (waiters.length > 0 && dataCount >= waiters[0]!.target) waiters.shift()!.resolve(dataCount);
  });
  transport.onMessage('bulk', ({ payload }) => {
    bulkBytes += (payload as Uint8Array).length;
  });
  // Bulk towards the dialer (`--hol-from-peer`): 8 MiB messages, back to back, while asked to.
  let streaming = false;
  const stream = async (rateMbPerS: number | undefined): Promise<void> => {
    const message = Buffer.alloc(8 * 1024 * 1024, 0x5a);
    await streamBulk(() => streaming, rateMbPerS, () => transport.sendAsync('bench-driver', 'bulk', message));
    streaming = false;
  };
  transport.onRequest('coordination', ({ payload }) => {
    const request = payload as { op: string; target?: number; on?: boolean; rateMbPerS?: number };
    if (request.op === 'ping') return 'pong';
    if (request.op === 'bulk-stream') {
      const start = request.on === true && !streaming;
      streaming = request.on === true;
      if (start) void stream(request.rateMbPerS);
      return streaming;
    }
    if (request.op === 'bulk-bytes') return bulkBytes;
    if (request.op === 'cpu') {
      const { user, system } = process.cpuUsage();
      return user + system;
    }
    if (request.op === 'reset') {
      dataCount = 0;
      return 0;
    }
    if (request.op === 'count') {
      const target = request.target ?? 0;
      if (dataCount >= target) return dataCount;
      return new Promise<number>((resolve) => waiters.push({ target, resolve }));
    }
    return null;
  });
  // The floor for a round trip between these two processes: a bare ws echo, no framing, no CBOR.
  const echo = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  echo.on('connection', (socket) => socket.on('message', (data: Buffer) => socket.send(data)));
  await new Promise((resolve) => echo.once('listening', resolve));
  const echoPort = (echo.address() as { port: number }).port;
  process.stdout.write(`${JSON.stringify({ url: transport.address()!.url, echoUrl: `ws://127.0.0.1:${echoPort}` })}\n`);
  process.on('SIGTERM', () => {
    void transport.close().then(() => process.exit(0));
  });
}
