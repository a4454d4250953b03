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
  /** The topology every node is pinned to (HyParView when absent). */
  readonly topology?: 'hyparview' | 'client-server';
}

export type ParentCommand =
  | { readonly type: 'book'; readonly addresses: Record<string, string> }
  | { readonly type: 'start'; readonly seeds: Record<string, string[]> }
  | { readonly type: 'status'; readonly request: number }
  | { readonly type: 'usage'; readonly request: number }
  | { readonly type: 'broadcast'; readonly request: number; readonly from: string; readonly size: number }
  | { readonly type: 'stop'; readonly request: number };

/** The fields of `record` that are numbers other than zero. */
function nonZero(record: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(record)) if (typeof value === 'number' && value !== 0) out[key] = value;
  return out;
}

export interface NodeStatus {
  readonly active: string[];
  readonly passive: string[];
  /** In client-server, whether the node is a server or a client. */
  readonly role?: 'server' | 'client';
  readonly delivered: string[];
  readonly sentMessages: number;
  readonly sentBytes: number;
  readonly receivedMessages: number;
  readonly receivedBytes: number;
  /** Connections the node's transport accepted since it started. */
  readonly acceptedConnections: number;
  /** Only for a node without a neighbour: what it knows, to tell why it is cut off. */
  readonly cutOff?: CutOffState;
}

export interface CutOffState {
  /** The membership's own counters (`stats().service` and `stats().driver`), those not zero. */
  readonly counters: Record<string, number>;
  /** The transport's links (`state/open connections`) and refusals. */
  readonly links: Record<string, string>;
  readonly refusals: Record<string, number>;
  /** The peers the transport reported up (its `peers()`), and its latest peer events. */
  readonly peersUp: string[];
  readonly recentEvents: string[];
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
// Each transport's latest peer events, as the membership heard them, for a node that ends up cut off.
const recentEvents = new Map<string, string[]>();
for (const transport of transports) {
  const recent: string[] = [];
  recentEvents.set(transport.nodeId, recent);
  const note = (event: string, peer: string): void => {
    recent.push(`${Math.round(performance.now())} ${event} ${peer}`);
    if (recent.length > 16) recent.shift();
  };
  transport.on('peer-up', (peer) => note('up', peer));
  transport.on('peer-down', (peer) => note('down', peer));
  transport.on('connection-error', (event) => note(`connection-error ${event.error.message}`, event.target));
}
send({ type: 'ready', addresses: Object.fromEntries(transports.map((transport) => [transport.nodeId, transport.address()!.url])) });

const memberships = new Map<string, Membership>();
const delivered = new Map<string, string[]>();

/** `{ role }` of a node in client-server, nothing otherwise. */
function roleOf(membership: Membership | undefined): { role?: 'server' | 'client' } {
  const role = membership?.topology().role;
  return role === undefined ? {} : { role };
}

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
      ...roleOf(membership),
      delivered: delivered.get(transport.nodeId) ?? [],
      sentMessages,
      sentBytes,
      receivedMessages,
      receivedBytes,
      acceptedConnections: stats.acceptedConnections,
      // Gathered only for a node without a neighbour: status is polled for every node while the
      // benchmark waits for convergence, inside the window whose CPU it measures.
      ...(membership !== undefined && membership.activeView().length === 0
        ? {
            cutOff: {
              counters: nonZero({ ...membership.stats().service, ...membership.stats().driver }),
              links: Object.fromEntries(stats.peers.map((peer) => [peer.peer, `${peer.state}/${peer.openConnections}`])),
              refusals: nonZero(stats.refusals),
              peersUp: transport.peers(),
              recentEvents: recentEvents.get(transport.nodeId) ?? [],
            },
          }
        : {}),
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
          topology: config.topology ?? 'hyparview',
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
