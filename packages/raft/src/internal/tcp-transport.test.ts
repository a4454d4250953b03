// The test transport's inbound side against frames no Raft node sends: each is dropped (or its
// connection closed), and the process goes on receiving.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { Encoder } from 'cbor-x';
import { createTcpTransport } from './tcp-transport';
import type { TcpTransport } from './tcp-transport';

const codec = new Encoder({ useRecords: false, structuredClone: false });

function frame(value: unknown): Buffer {
  const body = codec.encode(value);
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

let transport: TcpTransport | null = null;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await transport?.close();
  transport = null;
});

function connect(port: number, bytes: Buffer): Socket {
  const socket = createConnection({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  socket.write(bytes);
  sockets.push(socket);
  return socket;
}

describe('the TCP transport with malformed frames', () => {
  it('drops a frame that decodes to null or a number, and closes a connection whose hello is one, without throwing (review finding)', async () => {
    // A frame of CBOR null (or undefined) after the hello, or as the hello, was read as an
    // object: `null.channel` threw in the socket's data handler, an uncaught exception that
    // ended the node's process.
    transport = await createTcpTransport('n1', 0, new Map());
    const received: unknown[] = [];
    transport.onMessage('raft', ({ from, payload }) => void received.push({ from, payload }));
    const closed = connect(transport.port, frame(null));
    const closedNumber = connect(transport.port, frame(7));
    await Promise.all([closed, closedNumber].map((socket) => new Promise((resolve) => socket.on('close', resolve))));
    connect(transport.port, Buffer.concat([frame({ hello: 'n2' }), frame(null), frame(undefined), frame(42), frame({ channel: 'raft', payload: 'kept' })]));
    for (let attempt = 0; attempt < 200 && received.length === 0; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(received).toEqual([{ from: 'n2', payload: 'kept' }]);
  });
});
