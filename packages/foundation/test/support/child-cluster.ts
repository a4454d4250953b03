// Real Foundation nodes in child processes on loopback, driven over IPC (fixtures/node-child.ts).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../../src/options';

const ENTRY = join(__dirname, '../fixtures/node-child.ts');
const TSCONFIG = join(__dirname, '../../../../tsconfig.json');
const SECRET = 'child-cluster-test-secret-0123456789';

export interface Notice {
  readonly event: string;
  readonly [field: string]: unknown;
}

export class ChildNode {
  readonly notices: Notice[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private readonly watchers = new Set<() => void>();
  private exited = false;

  constructor(
    readonly id: string,
    readonly child: ChildProcess,
  ) {
    child.on('message', (message: { id?: number; ok?: boolean; value?: unknown; error?: { message: string; code?: number } } & Partial<Notice>) => {
      if (typeof message.event === 'string') {
        this.notices.push(message as Notice);
        for (const watcher of this.watchers) watcher();
        return;
      }
      const waiter = this.pending.get(message.id!);
      if (waiter === undefined) return;
      this.pending.delete(message.id!);
      if (message.ok === true) waiter.resolve(message.value);
      else waiter.reject(Object.assign(new Error(`${id}: ${message.error?.message ?? 'failed'}`), { code: message.error?.code }));
    });
    child.on('exit', () => {
      this.exited = true;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${id} exited`));
      this.pending.clear();
      for (const watcher of this.watchers) watcher();
    });
  }

  get alive(): boolean {
    return !this.exited;
  }

  call<T = unknown>(op: string, ...args: unknown[]): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.id} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, op, args });
    });
  }

  /** Resolves with the first notice (already received or still to come) that matches. */
  notice(matches: (notice: Notice) => boolean, what: string, timeoutMs = 20_000): Promise<Notice> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.notices.find(matches);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.exited) {
          done();
          reject(new Error(`${this.id} exited before ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.id}: gave up waiting for ${what}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.watchers.delete(check);
      };
      this.watchers.add(check);
      check();
    });
  }

  /** SIGKILL: no goodbye to anyone. */
  async kill(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.call('stop').catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export interface ChildClusterOptions {
  readonly names: readonly string[];
  /** How many of the nodes (the first ones) vote in Raft. Default all. */
  readonly voters?: number;
  readonly dataRoot: string;
}

function startChild(options: Record<string, unknown>): Promise<ChildNode> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG },
  });
  const node = new ChildNode(options.name as string, child);
  return node.notice((notice) => notice.event === 'ready', 'the node to start', 60_000).then(() => node);
}

/**
 * Starts one node of the test cluster (its secret, local timings) with `name` an id, the `voters`
 * given (a voter never started, say) and no seeds.
 */
export function startChildNode(options: { readonly name: string; readonly voters: readonly string[]; readonly dataDir: string }): Promise<ChildNode> {
  return startChild({ ...options, secret: SECRET, seeds: [], timing: 'local' });
}

/** The secret every node of the test cluster holds, for a node started in this process to join them. */
export const CHILD_CLUSTER_SECRET = SECRET;

/** Starts the nodes; every node but the first joins through the first. */
export async function startChildCluster(options: ChildClusterOptions): Promise<ChildNode[]> {
  const ports = await Promise.all(options.names.map(() => freePort('127.0.0.1')));
  const ids = options.names.map((name, index) => `${name}@127.0.0.1:${ports[index]!}`);
  const voters = ids.slice(0, options.voters ?? ids.length);
  const nodes = await Promise.allSettled(
    ids.map((id, index) =>
      startChild({
        name: id,
        secret: SECRET,
        voters,
        seeds: index === 0 ? [] : [ids[0]],
        timing: 'local',
        dataDir: join(options.dataRoot, options.names[index]!),
        config: { defaults: { limits: { rate: 10 } }, updatablePaths: ['limits'] },
      }),
    ),
  );
  const started = nodes.filter((result): result is PromiseFulfilledResult<ChildNode> => result.status === 'fulfilled').map((result) => result.value);
  const failed = nodes.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(started.map((node) => node.kill()));
    throw failed.reason;
  }
  return started;
}

/** Polls `probe` until it returns a value `accept` likes. */
export async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (accept(value)) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
