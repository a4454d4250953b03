// A small authoritative DNS responder over UDP on loopback (RFC 1035 message format, RFC 2782
// SRV), for testing DNS seeds against a real resolver. It answers A, AAAA and SRV questions from
// a record table the test can change while it runs; unknown names get NXDOMAIN.
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

export interface RecordSet {
  A?: string[];
  AAAA?: string[];
  SRV?: SrvRecord[];
}

export interface DnsServer {
  /** `127.0.0.1:port`, for `Resolver#setServers`. */
  readonly address: string;
  readonly records: Map<string, RecordSet>;
  /** Questions answered so far. */
  queries(): number;
  close(): Promise<void>;
}

const TYPE = { A: 1, AAAA: 28, SRV: 33 } as const;

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter((label) => label.length > 0);
  const buffers = parts.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')]));
  return Buffer.concat([...buffers, Buffer.from([0])]);
}

function readQuestion(message: Buffer): { name: string; type: number; end: number } | undefined {
  let offset = 12;
  const labels: string[] = [];
  while (offset < message.length) {
    const length = message[offset]!;
    offset += 1;
    if (length === 0) break;
    if (length > 63 || offset + length > message.length) return undefined;
    labels.push(message.toString('ascii', offset, offset + length));
    offset += length;
  }
  if (offset + 4 > message.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: message.readUInt16BE(offset), end: offset + 4 };
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === '' ? [] : tail.split(':');
  const missing = address.includes('::') ? 8 - headParts.length - tailParts.length : 0;
  const groups = [...headParts, ...Array<string>(missing).fill('0'), ...tailParts];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2));
  return bytes;
}

function answer(type: number, data: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0xc00c, 0); // name: pointer to the question
  header.writeUInt16BE(type, 2);
  header.writeUInt16BE(1, 4); // class IN
  header.writeUInt32BE(5, 6); // TTL 5 s
  header.writeUInt16BE(data.length, 10);
  return Buffer.concat([header, data]);
}

function respond(query: Buffer, records: Map<string, RecordSet>): Buffer | undefined {
  if (query.length < 12) return undefined;
  const question = readQuestion(query);
  if (question === undefined) return undefined;
  const set = records.get(question.name);
  const answers: Buffer[] = [];
  if (set !== undefined) {
    if (question.type === TYPE.A) for (const address of set.A ?? []) if (isIPv4(address)) answers.push(answer(TYPE.A, Buffer.from(address.split('.').map(Number))));
    if (question.type === TYPE.AAAA) for (const address of set.AAAA ?? []) if (isIPv6(address)) answers.push(answer(TYPE.AAAA, ipv6Bytes(address)));
    if (question.type === TYPE.SRV) {
      for (const record of set.SRV ?? []) {
        const fixed = Buffer.alloc(6);
        fixed.writeUInt16BE(record.priority, 0);
        fixed.writeUInt16BE(record.weight, 2);
        fixed.writeUInt16BE(record.port, 4);
        answers.push(answer(TYPE.SRV, Buffer.concat([fixed, encodeName(record.target)])));
      }
    }
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  const recursionDesired = query[2]! & 0x01;
  header[2] = 0x84 | recursionDesired; // QR, authoritative
  header[3] = 0x80 | (set === undefined ? 3 : 0); // RA; NXDOMAIN for unknown names
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, query.subarray(12, question.end), ...answers]);
}

/** Binds `socket` to a free port on 127.0.0.1 and gives the port. */
async function bindLoopback(socket: Socket): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  return socket.address().port;
}

export async function startDnsServer(records: Map<string, RecordSet> = new Map()): Promise<DnsServer> {
  const socket: Socket = createSocket('udp4');
  let answered = 0;
  socket.on('message', (message: Buffer, remote: RemoteInfo) => {
    const reply = respond(message, records);
    if (reply === undefined) return;
    answered += 1;
    socket.send(reply, remote.port, remote.address);
  });
  const port = await bindLoopback(socket);
  return {
    address: `127.0.0.1:${port}`,
    records,
    queries: () => answered,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/**
 * A DNS server that receives questions and never answers (a server that is down behind a
 * firewall dropping packets): a query to it waits for the resolver's timeout, and is retried.
 * `queries()` counts the questions received.
 */
export async function startSilentDnsServer(): Promise<Omit<DnsServer, 'records'>> {
  const socket: Socket = createSocket('udp4');
  let received = 0;
  socket.on('message', () => {
    received += 1;
  });
  const port = await bindLoopback(socket);
  return {
    address: `127.0.0.1:${port}`,
    queries: () => received,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
