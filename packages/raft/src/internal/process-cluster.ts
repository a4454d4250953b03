// Starts Raft nodes as child processes on loopback and talks to them as a client would. Used by
// the multi-process tests (through tsx) and the benchmarks (through a bundle).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ClusterOptions {
  readonly ids: readonly string[];
  /** How to run node-main: e.g. ['--import', 'tsx', '/path/node-main.ts'] or ['/path/node-main.mjs']. */
  readonly entry: readonly string[];
  readonly sync?: boolean;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly snapshotEvery?: number;
}

export interface Reply {
  readonly ok: boolean;
  readonly result?: unknown;
  readonly code?: number;
  readonly leader?: string | null;
  readonly message?: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** How often a client fails the requests whose time ran out (one sweep, not a timer each). */
const SWEEP_MS = 50;

/** A JSON-lines client connection to one node. */
export class NodeClient {
  private socket: Socket | null = null;
  private nextId = 1;
  private buffered = '';
  /** Requests waiting for a reply, in the order sent, with the time each gives up. */
  private readonly waiting = new Map<number, { readonly resolve: (reply: Reply) => void; readonly deadline: number }>();
  private sweeper: ReturnType<typeof setInterval> | null = null;

  constructor(readonly port: number) {}

  private connect(): Socket {
    if (this.socket !== null && !this.socket.destroyed) return this.socket;
    const socket = createConnection({ host: '127.0.0.1', port: this.port });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString('utf8');
      let newline = this.buffered.indexOf('\n');
      while (newline >= 0) {
        const reply = JSON.parse(this.buffered.slice(0, newline)) as Reply & { id: number };
        this.buffered = this.buffered.slice(newline + 1);
        newline = this.buffered.indexOf('\n');
        this.waiting.get(reply.id)?.resolve(reply);
        this.waiting.delete(reply.id);
      }
    });
    const failAll = (): void => {
      for (const { resolve } of this.waiting.values()) resolve({ ok: false, code: -1, message: 'connection lost' });
      this.waiting.clear();
      this.buffered = '';
    };
    socket.on('error', failAll);
    socket.on('close', failAll);
    this.socket = socket;
    return socket;
  }

  /**
   * Sends `request`; a reply that has not come after `timeoutMs` is a client timeout. Timeouts
   * are found by one sweep every SWEEP_MS rather than a timer per request: an open-loop load of
   * 16,000 requests a second kept as many timers (and their closures) alive, and the load
   * generator's collections of them stalled every request in flight.
   */
  request(request: Record<string, unknown>, timeoutMs = 5000): Promise<Reply> {
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, deadline: performance.now() + timeoutMs });
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS);
      const socket = this.connect();
      if (socket.writableCorked === 0) {
        socket.cork();
        setImmediate(() => socket.uncork());
      }
      socket.write(`${JSON.stringify(Object.assign({}, request, { id }))}\n`);
    });
  }

  private sweep(): void {
    const now = performance.now();
    for (const [id, { resolve, deadline }] of this.waiting) {
      if (deadline > now) continue;
      this.waiting.delete(id);
      resolve({ ok: false, code: -2, message: 'client timeout' });
    }
    if (this.waiting.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }
}

export interface ProcessNode {
  readonly id: string;
  readonly raftPort: number;
  readonly clientPort: number;
  readonly dataDir: string;
  process: ChildProcess | null;
  client: NodeClient;
}

export class ProcessCluster {
  readonly nodes = new Map<string, ProcessNode>();
  private readonly root: string;

  private constructor(private readonly options: ClusterOptions) {
    this.root = mkdtempSync(join(tmpdir(), 'raft-cluster-'));
  }

  /**
   * Starts every node. A port `freePort` found free can be taken by another process before the
   * node listens on it (other tests and benchmarks share the machine); the node then exits, and
   * the cluster is stopped and started again on other ports, up to three times. A failed start
   * never leaves nodes running. (A benchmark run died this way with two nodes given the same
   * port, and left the other two running.)
   */
  static async start(options: ClusterOptions): Promise<ProcessCluster> {
    for (let attempt = 1; ; attempt += 1) {
      const cluster = new ProcessCluster(options);
      try {
        // The system can hand the same free port out twice in a row (it was closed in between),
        // so ports already given to a node are asked for again.
        const taken = new Set<number>();
        const distinctPort = async (): Promise<number> => {
          for (;;) {
            const port = await freePort();
            if (taken.has(port)) continue;
            taken.add(port);
            return port;
          }
        };
        for (const id of options.ids) {
          const raftPort = await distinctPort();
          const clientPort = await distinctPort();
          cluster.nodes.set(id, { id, raftPort, clientPort, dataDir: join(cluster.root, id), process: null, client: new NodeClient(clientPort) });
        }
        await Promise.all(options.ids.map((id) => cluster.launch(id)));
        return cluster;
      } catch (error) {
        await cluster.stop();
        if (attempt === 3) throw error;
      }
    }
  }

  /** Starts (or restarts) a node's process and waits until it listens. */
  launch(id: string): Promise<void> {
    const node = this.nodes.get(id)!;
    const peers = Object.fromEntries([...this.nodes.values()].map((peer) => [peer.id, peer.raftPort]));
    const config = {
      id,
      raftPort: node.raftPort,
      clientPort: node.clientPort,
      peers,
      dataDir: node.dataDir,
      sync: this.options.sync ?? true,
      ...(this.options.tickMs === undefined ? {} : { tickMs: this.options.tickMs }),
      ...(this.options.electionTicks === undefined ? {} : { electionTicks: this.options.electionTicks }),
      ...(this.options.heartbeatTicks === undefined ? {} : { heartbeatTicks: this.options.heartbeatTicks }),
      ...(this.options.snapshotEvery === undefined ? {} : { snapshotEvery: this.options.snapshotEvery }),
    };
    // RAFT_NODE_ARGS: extra flags for the node processes (`--trace-gc`, `--cpu-prof`, ...) when profiling.
    const nodeArgs = (process.env.RAFT_NODE_ARGS ?? '').split(' ').filter((flag) => flag !== '');
    const child = spawn(process.execPath, [...nodeArgs, ...this.options.entry, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
    node.process = child;
    return new Promise((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes(`ready ${id}`)) {
          child.stdout.off('data', onData);
          // Keep draining: a node writing to a full pipe would block. What it writes after
          // starting (node's --trace-gc output under RAFT_NODE_ARGS) goes to stderr.
          child.stdout.on('data', (more: Buffer) => {
            if (nodeArgs.length > 0) process.stderr.write(more);
          });
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.once('exit', (code, signal) => reject(new Error(`node ${id} exited (${code ?? signal}) before it was ready`)));
    });
  }

  /** SIGKILL: no chance to flush or close anything. */
  kill(id: string): Promise<void> {
    const node = this.nodes.get(id)!;
    const child = node.process;
    node.client.close();
    node.client = new NodeClient(node.clientPort);
    if (child === null || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
      node.process = null;
    });
  }

  /** SIGTERM, then up to 5 s for the node to stop on its own. */
  private terminate(id: string): Promise<void> {
    const child = this.nodes.get(id)!.process;
    if (child === null || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  async status(id: string): Promise<{ role: string; term: number; leader: string | null; commit: number; applied: number; lastIndex: number; snapshotIndex: number; stats: { snapshotsInstalled: number } } | null> {
    const reply = await this.nodes.get(id)!.client.request({ op: 'status' }, 1000);
    return reply.ok ? (reply.result as never) : null;
  }

  async leader(): Promise<string | null> {
    for (const id of this.nodes.keys()) {
      if (this.nodes.get(id)!.process === null) continue;
      const status = await this.status(id);
      if (status?.role === 'leader') return id;
    }
    return null;
  }

  async stop(): Promise<void> {
    // With RAFT_NODE_ARGS (profiling), SIGTERM first so that `--cpu-prof` and the like get to write.
    if ((process.env.RAFT_NODE_ARGS ?? '') !== '') await Promise.all([...this.nodes.keys()].map((id) => this.terminate(id)));
    await Promise.all([...this.nodes.keys()].map((id) => this.kill(id)));
    rmSync(this.root, { recursive: true, force: true });
  }
}
