// A Raft key-value node as its own process, for multi-process tests and benchmarks:
//   node node-main.js '{"id":"n1","raftPort":7001,"clientPort":8001,"peers":{"n1":7001,...},"dataDir":"..."}'
// It prints `ready <id>` once it listens. Clients speak JSON lines on the client port:
//   {"id":1,"op":"put","key":"k","value":1} → {"id":1,"ok":true,"result":{...}}
//   failures → {"id":1,"ok":false,"code":6010,"leader":"n2","message":"..."}
import { createServer } from 'node:net';
import { FoundationError } from '@foundation/core';
import { createRaftNode } from '../driver/raft-node';
import { createKvStateMachine } from '../kv/kv-state-machine';
import { createFileStorage } from '../storage/file-storage';
import { coalesce, createTcpTransport } from './tcp-transport';

interface NodeConfig {
  readonly id: string;
  readonly raftPort: number;
  readonly clientPort: number;
  readonly peers: Record<string, number>;
  readonly dataDir: string;
  readonly sync?: boolean;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly snapshotEvery?: number;
  readonly join?: boolean;
}

interface ClientRequest {
  readonly id: number;
  readonly op: 'put' | 'cas' | 'delete' | 'get' | 'status' | 'add-learner' | 'add-voter';
  readonly key?: string;
  readonly value?: unknown;
  readonly expected?: unknown;
  readonly node?: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as NodeConfig;
const transport = await createTcpTransport(config.id, config.raftPort, new Map(Object.entries(config.peers)));
const node = createRaftNode({
  id: config.id,
  peers: config.join === true ? [] : Object.keys(config.peers),
  persistence: createFileStorage(config.dataDir, { sync: config.sync ?? true }),
  transport,
  stateMachine: createKvStateMachine(),
  ...(config.tickMs === undefined ? {} : { tickMs: config.tickMs }),
  ...(config.electionTicks === undefined ? {} : { electionTicks: config.electionTicks }),
  ...(config.heartbeatTicks === undefined ? {} : { heartbeatTicks: config.heartbeatTicks }),
  ...(config.snapshotEvery === undefined ? {} : { snapshotEvery: config.snapshotEvery }),
});
await node.start();

async function handle(request: ClientRequest): Promise<unknown> {
  switch (request.op) {
    case 'put':
      return node.propose({ op: 'put', key: request.key!, value: request.value });
    case 'cas':
      return node.propose({ op: 'cas', key: request.key!, expected: request.expected, value: request.value });
    case 'delete':
      return node.propose({ op: 'delete', key: request.key! });
    case 'get':
      return node.read({ op: 'get', key: request.key! });
    case 'add-learner':
      return node.addLearner(request.node!);
    case 'add-voter':
      return node.addVoter(request.node!);
    case 'status':
      return { ...node.status(), stats: node.stats() };
  }
}

const server = createServer((socket) => {
  socket.setNoDelay(true);
  let buffered = '';
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      let request: ClientRequest;
      try {
        request = JSON.parse(line) as ClientRequest;
      } catch {
        socket.destroy();
        return;
      }
      handle(request).then(
        (result) => {
          coalesce(socket);
          socket.write(`${JSON.stringify({ id: request.id, ok: true, result })}\n`);
        },
        (error: unknown) => {
          const failure = FoundationError.from(error);
          const leader = (failure.context as { leaderHint?: string | null }).leaderHint ?? null;
          coalesce(socket);
          socket.write(`${JSON.stringify({ id: request.id, ok: false, code: failure.code, leader, message: failure.message })}\n`);
        },
      );
    }
  });
  socket.on('error', () => undefined);
});
server.listen(config.clientPort, '127.0.0.1', () => {
  process.stdout.write(`ready ${config.id}\n`);
});

const shutdown = (): void => {
  server.close();
  void node.stop().then(() => transport.close()).then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
