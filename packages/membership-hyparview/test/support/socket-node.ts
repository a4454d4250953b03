// One process holding several membership nodes, each with its own @foundation/channels transport
// listening on loopback. Driven by its parent over IPC (see socket-cluster.ts):
//   ready → book (every node's URL) → start (seeds) → status / broadcast … → stop, or SIGKILL.
import { createTransport, defaultLocalConfig as channelsLocalConfig } from '@foundation/channels';
import type { Transport } from '@foundation/channels';
import { createMembership, defaultLocalConfig } from '../../src/index';
import type { Membership, PeerTransport } from '../../src/index';

export interface NodeProcessConfig {
  readonly ids: readonly string[];
  readonly secret: string;
  /** Heartbeat interval (0: transport failure detection only). */
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly shuffleIntervalMs: number;
  /** How shuffles are answered (the preset's choice when absent). */
  readonly shuffleReplyRoute?: 'direct' | 'walk';
}

export type ParentCommand =
  | { readonly type: 'book'; readonly addresses: Record<string, string> }
  | { readonly type: 'start'; readonly seeds: Record<string, string[]> }
  | { readonly type: 'status'; readonly request: number }
  | { readonly type: 'usage'; readonly request: number }
  | { readonly type: 'broadcast'; readonly request: number; readonly from: string; readonly size: number }
  | { readonly type: 'stop'; readonly request: number };

export interface NodeStatus {
  readonly active: string[];
  readonly passive: string[];
  readonly delivered: string[];
  readonly sentMessages: number;
  readonly sentBytes: number;
  readonly receivedMessages: number;
  readonly receivedBytes: number;
  /** Connections the node's transport accepted since it started. */
  readonly acceptedConnections: number;
}

export type ChildReport =
  | { readonly type: 'ready'; readonly addresses: Record<string, string> }
  | { readonly type: 'status'; readonly request: number; readonly nodes: Record<string, NodeStatus> }
  /** CPU time this process has used since it started (user and system), in microseconds. */
  | { readonly type: 'usage'; readonly request: number; readonly cpuMicros: number }
  | { readonly type: 'broadcast'; readonly request: number; readonly id: string }
  | { readonly type: 'stopped'; readonly request: number };

/** The two channels the membership uses, on one connection per peer (fewer sockets for many nodes per machine). */
export const CHANNELS = {
  coordination: { priority: 8, parallelism: 1, maxQueueMessages: 10_000 },
  gossip: { priority: 1, parallelism: 1, maxQueueMessages: 10_000 },
} as const;

const config = JSON.parse(process.argv[2] ?? '{}') as NodeProcessConfig;
const book = new Map<string, string>();
const send = (report: ChildReport): void => {
  process.send?.(report);
};

// Local timings, with the transport's own heartbeats slowed down: the membership has its own.
const timing = { ...channelsLocalConfig().timing, heartbeatIntervalMs: 500, idleTimeoutMs: 3_000 };
const transports: Transport[] = config.ids.map((nodeId) =>
  createTransport({
    nodeId,
    listen: { host: '127.0.0.1', port: 0 },
    security: { secret: config.secret },
    timing,
    channels: CHANNELS,
    connectionMode: 'single',
    resolveAddress: (peer) => book.get(peer),
  }),
);
await Promise.all(transports.map((transport) => transport.ready()));
send({ type: 'ready', addresses: Object.fromEntries(transports.map((transport) => [transport.nodeId, transport.address()!.url])) });

const memberships = new Map<string, Membership>();
const delivered = new Map<string, string[]>();

function status(): Record<string, NodeStatus> {
  const nodes: Record<string, NodeStatus> = {};
  for (const transport of transports) {
    const membership = memberships.get(transport.nodeId);
    let sentMessages = 0;
    let sentBytes = 0;
    let receivedMessages = 0;
    let receivedBytes = 0;
    const stats = transport.stats();
    for (const counters of Object.values(stats.channels)) {
      sentMessages += counters.messagesQueued;
      sentBytes += counters.bytesSent;
      receivedMessages += counters.messagesReceived;
      receivedBytes += counters.bytesReceived;
    }
    nodes[transport.nodeId] = {
      active: membership?.activeView() ?? [],
      passive: membership?.passiveView() ?? [],
      delivered: delivered.get(transport.nodeId) ?? [],
      sentMessages,
      sentBytes,
      receivedMessages,
      receivedBytes,
      acceptedConnections: stats.acceptedConnections,
    };
  }
  return nodes;
}

process.on('message', (command: ParentCommand) => {
  switch (command.type) {
    case 'book':
      for (const [id, url] of Object.entries(command.addresses)) book.set(id, url);
      return;
    case 'start': {
      const base = defaultLocalConfig();
      for (const transport of transports) {
        // The channels transport is used as it is: it satisfies the membership's transport port.
        const port: PeerTransport = transport;
        const membership = createMembership({
          nodeId: transport.nodeId,
          transport: port,
          seeds: command.seeds[transport.nodeId] ?? [],
          topology: 'hyparview',
          config: {
            ...base,
            hyparview: { ...base.hyparview, shuffleIntervalMs: config.shuffleIntervalMs, shuffleReplyRoute: config.shuffleReplyRoute ?? base.hyparview.shuffleReplyRoute },
            failureDetection: { ...base.failureDetection, heartbeatIntervalMs: config.heartbeatIntervalMs, heartbeatTimeoutMs: config.heartbeatTimeoutMs },
            joinTimeoutMs: 60_000,
          },
        });
        memberships.set(transport.nodeId, membership);
        delivered.set(transport.nodeId, []);
        membership.subscribe('probe', (message) => delivered.get(transport.nodeId)!.push(message.id));
        membership.join().catch(() => undefined);
      }
      return;
    }
    case 'status':
      send({ type: 'status', request: command.request, nodes: status() });
      return;
    case 'usage': {
      const { user, system } = process.cpuUsage();
      send({ type: 'usage', request: command.request, cpuMicros: user + system });
      return;
    }
    case 'broadcast': {
      const membership = memberships.get(command.from)!;
      const id = membership.broadcast('probe', new Uint8Array(command.size));
      delivered.get(command.from)!.push(id);
      send({ type: 'broadcast', request: command.request, id });
      return;
    }
    case 'stop':
      void (async () => {
        await Promise.all([...memberships.values()].map((membership) => membership.leave()));
        await Promise.all(transports.map((transport) => transport.close()));
        send({ type: 'stopped', request: command.request });
        process.disconnect?.();
      })();
      return;
  }
});
process.on('disconnect', () => {
  // The parent went away: do not outlive it.
  setTimeout(() => process.exit(0), 100).unref();
  void Promise.all(transports.map((transport) => transport.close()));
});
