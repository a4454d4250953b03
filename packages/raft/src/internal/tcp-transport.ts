// A small TCP transport for Raft's multi-process tests and benchmarks: length-prefixed CBOR
// frames, one outbound connection per peer (reconnecting), the sender's id announced once per
// connection. Real clusters use @foundation/channels through the meta-package; this exists so
// the raft package can prove itself over real sockets on its own.
import { createServer, createConnection } from 'node:net';
import type { Server, Socket } from 'node:net';
import { Encoder } from 'cbor-x';
import type { RaftTransport } from '../driver/raft-node';

const codec = new Encoder({ useRecords: false, structuredClone: false });
const MAX_FRAME = 256 * 1024 * 1024;
/** Above this many bytes queued on a socket, `send` refuses (the caller retries or gives up). */
const HIGH_WATER = 64 * 1024 * 1024;

export interface TcpTransport extends RaftTransport {
  readonly port: number;
  close(): Promise<void>;
}

type Handler = (message: { readonly from: string; readonly payload: unknown }) => void;

function frame(value: unknown): Buffer {
  const body = codec.encode(value);
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

/** Splits a byte stream into frames; returns false on a frame that is too large (close). */
function reader(onFrame: (value: unknown) => void): (chunk: Buffer) => boolean {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0);
      if (length > MAX_FRAME) return false;
      if (pending.length < 4 + length) break;
      const body = pending.subarray(4, 4 + length);
      pending = pending.subarray(4 + length);
      let value: unknown;
      try {
        value = codec.decode(body);
      } catch {
        return false;
      }
      onFrame(value);
    }
    return true;
  };
}

/**
 * Holds a socket's writes until the event loop turns, so every frame sent while handling one
 * batch of events leaves in one system call.
 */
export function coalesce(socket: Socket): void {
  if (socket.writableCorked > 0) return;
  socket.cork();
  setImmediate(() => socket.uncork());
}

export async function createTcpTransport(id: string, port: number, peers: ReadonlyMap<string, number>): Promise<TcpTransport> {
  const handlers = new Map<string, Handler>();
  const outbound = new Map<string, Socket>();
  const inbound = new Set<Socket>();
  let closed = false;

  const server: Server = createServer((socket) => {
    inbound.add(socket);
    socket.setNoDelay(true);
    let from: string | null = null;
    const onData = reader((value) => {
      // A frame may decode to anything CBOR holds (null, a number): reading a field of null
      // would throw in the socket's data handler and end the process.
      const fields = typeof value === 'object' && value !== null ? (value as { hello?: unknown; channel?: unknown; payload?: unknown }) : {};
      if (from === null) {
        if (typeof fields.hello !== 'string') {
          socket.destroy();
          return;
        }
        from = fields.hello;
        return;
      }
      if (typeof fields.channel !== 'string') return;
      handlers.get(fields.channel)?.({ from, payload: fields.payload });
    });
    socket.on('data', (chunk: Buffer) => {
      if (!onData(chunk)) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => inbound.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;

  const connection = (peer: string): Socket | null => {
    const existing = outbound.get(peer);
    if (existing !== undefined && !existing.destroyed) return existing;
    const peerPort = peers.get(peer);
    if (peerPort === undefined || closed) return null;
    const socket = createConnection({ host: '127.0.0.1', port: peerPort });
    socket.setNoDelay(true);
    socket.write(frame({ hello: id }));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (outbound.get(peer) === socket) outbound.delete(peer);
    });
    outbound.set(peer, socket);
    return socket;
  };

  return {
    port: boundPort,
    send(peer, channel, payload) {
      const socket = connection(peer);
      if (socket === null || socket.writableLength > HIGH_WATER) return false;
      coalesce(socket);
      socket.write(frame({ channel, payload }));
      return true;
    },
    onMessage(channel, handler) {
      handlers.set(channel, handler);
      return () => handlers.delete(channel);
    },
    async close() {
      closed = true;
      for (const socket of [...outbound.values(), ...inbound]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
