// A small real network: one network namespace per host, each with a veth pair whose other end
// sits in a bridge inside a dedicated hub namespace, addresses on a private /24, loopback up,
// and an nftables table per host for the faults (drop rules on input).
//
// Every name starts with the run's prefix `chaos-<pid>-<hex>`, so runs in parallel never
// collide and a later run can tell a leftover (its pid is gone) from a live one. Nothing is
// created in the root namespace: the veth ends are created directly inside their namespaces,
// so deleting the namespaces removes every interface, the bridge and the nftables tables.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { CommandError, run, runSync } from './command';

export const NAMESPACE_PREFIX = 'chaos-';
const TABLE = 'chaos';

export interface LabHost {
  /** The host's name, as the caller gave it (`n1`). */
  readonly name: string;
  /** Its network namespace. */
  readonly namespace: string;
  /** Its address on the lab's subnet. */
  readonly address: string;
}

export interface LabOptions {
  readonly hosts: readonly string[];
  /** The first three octets of the /24 the hosts live on. Default `10.213.0`. */
  readonly subnet?: string;
}

export interface NetworkLab {
  /** `chaos-<pid>-<hex>`: the start of every namespace name this lab made. */
  readonly prefix: string;
  readonly hub: string;
  readonly hosts: readonly LabHost[];
  host(name: string): LabHost;
  /**
   * Makes `host` drop every packet arriving from `sources` (host names); an empty list lets
   * everything in again. Replaces the host's previous rule set atomically.
   */
  dropFrom(host: string, sources: readonly string[]): Promise<void>;
  /** What each host drops now: host name → source host names. */
  drops(): Record<string, string[]>;
  /** Lets everything through everywhere. */
  healAll(): Promise<void>;
  /** The process ids living in a host's namespace. */
  pids(host: string): Promise<number[]>;
  /** Kills whatever still runs in the namespaces and deletes them (with the bridge, veths and tables). Idempotent. */
  teardown(): Promise<void>;
}

/** The lab cannot run here: not root, no iproute2 or nftables, or namespaces not permitted. */
export class LabUnavailableError extends Error {
  constructor(reason: string) {
    super(`the chaos suite needs real network namespaces and cannot run here: ${reason}`);
    this.name = 'LabUnavailableError';
  }
}

/**
 * Why the lab cannot run here (not Linux, not root, no `ip` or `nft`, namespaces refused), or
 * null when it can. Synchronous, so a test file can decide at load time whether to skip.
 */
export function labUnavailableReason(): string | null {
  if (process.platform !== 'linux') return `network namespaces are Linux only (platform ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return `it must run as root (uid ${process.getuid()}); namespaces, veth pairs and nftables need CAP_NET_ADMIN and CAP_SYS_ADMIN`;
  }
  const ip = runSync('ip', ['-V']);
  if (!ip.ok) return `iproute2's \`ip\` is not usable (${ip.stderr.trim() || 'not found'}); install iproute2`;
  const nft = runSync('nft', ['--version']);
  if (!nft.ok) return `\`nft\` is not usable (${nft.stderr.trim() || 'not found'}); install nftables`;
  const probe = `${NAMESPACE_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}-probe`;
  try {
    const added = runSync('ip', ['netns', 'add', probe]);
    if (!added.ok) return `\`ip netns add\` failed: ${added.stderr.trim()}`;
    const table = runSync('ip', ['netns', 'exec', probe, 'nft', 'add', 'table', 'inet', TABLE]);
    if (!table.ok) return `nftables inside a namespace failed: ${table.stderr.trim()}`;
    return null;
  } finally {
    runSync('ip', ['netns', 'del', probe]);
  }
}

/** Throws LabUnavailableError naming the first missing prerequisite. */
export function checkLabPrerequisites(): void {
  const reason = labUnavailableReason();
  if (reason !== null) throw new LabUnavailableError(reason);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function listNamespaces(): Promise<string[]> {
  const output = await run('ip', ['netns', 'list']);
  return output
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.length > 0);
}

function namespacePids(namespace: string): number[] {
  const listed = runSync('ip', ['netns', 'pids', namespace]);
  return listed.stdout
    .split(/\s+/)
    .filter((text) => /^\d+$/.test(text))
    .map(Number);
}

function killAndDelete(namespaces: readonly string[]): void {
  for (const namespace of namespaces) {
    for (const pid of namespacePids(namespace)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  for (const namespace of namespaces) runSync('ip', ['netns', 'del', namespace]);
}

/**
 * Removes the namespaces of earlier runs whose orchestrator is gone (killed before it could
 * clean up), with whatever still runs inside them. Returns the names removed.
 */
export async function sweepLeftoverLabs(): Promise<string[]> {
  const pattern = new RegExp(`^${NAMESPACE_PREFIX}(\\d+)-[0-9a-f]+-`);
  const leftovers = (await listNamespaces()).filter((name) => {
    const match = pattern.exec(name);
    return match !== null && Number(match[1]) !== process.pid && !processAlive(Number(match[1]));
  });
  killAndDelete(leftovers);
  return leftovers;
}

/**
 * Removes every namespace a process made (default: this one), with whatever runs inside: the
 * last line of defence of a test's afterAll. Returns the names removed.
 */
export async function removeLabsOf(pid: number = process.pid): Promise<string[]> {
  const mine = (await listNamespaces()).filter((name) => name.startsWith(`${NAMESPACE_PREFIX}${pid}-`));
  killAndDelete(mine);
  return mine;
}

// Labs not yet torn down: the exit handler removes them when the process ends any other way.
const live = new Set<{ namespaces: string[] }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lab of live) killAndDelete(lab.namespaces);
    live.clear();
  });
}

function ruleScript(sources: readonly string[]): string {
  const lines = [`flush chain inet ${TABLE} input`];
  if (sources.length > 0) lines.push(`add rule inet ${TABLE} input ip saddr { ${sources.join(', ')} } counter drop`);
  return `${lines.join('\n')}\n`;
}

/** Builds the lab. On any failure it removes what it made before rethrowing. */
export async function createNetworkLab(options: LabOptions): Promise<NetworkLab> {
  if (options.hosts.length === 0 || options.hosts.length > 200) throw new RangeError('a lab holds 1 to 200 hosts');
  for (const name of options.hosts) {
    if (!/^[a-z][a-z0-9]{0,7}$/.test(name)) throw new RangeError(`host name ${JSON.stringify(name)}: 1–8 lowercase letters and digits, starting with a letter`);
  }
  const subnet = options.subnet ?? '10.213.0';
  const prefix = `${NAMESPACE_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`;
  const hub = `${prefix}-hub`;
  const hosts: LabHost[] = options.hosts.map((name, index) => ({ name, namespace: `${prefix}-${name}`, address: `${subnet}.${index + 11}` }));
  const byName = new Map(hosts.map((host) => [host.name, host]));
  const dropping = new Map<string, string[]>(hosts.map((host) => [host.name, []]));
  const record = { namespaces: [] as string[] };
  live.add(record);
  installExitHook();

  const ipIn = (namespace: string, ...args: string[]): Promise<string> => run('ip', ['-n', namespace, ...args]);
  const nftIn = (namespace: string, script: string): Promise<string> => run('ip', ['netns', 'exec', namespace, 'nft', '-f', '-'], { input: script });

  let tornDown = false;
  const teardown = async (): Promise<void> => {
    if (tornDown) return;
    tornDown = true;
    // Tables first (they would go with their namespace, but say so explicitly), then processes and namespaces.
    await Promise.all(hosts.filter((host) => record.namespaces.includes(host.namespace)).map((host) => nftIn(host.namespace, `delete table inet ${TABLE}\n`).catch(() => undefined)));
    killAndDelete(record.namespaces);
    const remaining = (await listNamespaces()).filter((name) => name.startsWith(`${prefix}-`));
    live.delete(record);
    if (remaining.length > 0) throw new Error(`namespaces still present after teardown: ${remaining.join(', ')}`);
  };

  try {
    await run('ip', ['netns', 'add', hub]);
    record.namespaces.push(hub);
    await ipIn(hub, 'link', 'set', 'lo', 'up');
    await ipIn(hub, 'link', 'add', 'br0', 'type', 'bridge');
    await ipIn(hub, 'link', 'set', 'br0', 'up');
    for (const host of hosts) {
      await run('ip', ['netns', 'add', host.namespace]);
      record.namespaces.push(host.namespace);
      await ipIn(host.namespace, 'link', 'set', 'lo', 'up');
      // Both ends are born inside their namespaces: nothing ever appears in the root namespace.
      await run('ip', ['link', 'add', 'name', 'eth0', 'netns', host.namespace, 'type', 'veth', 'peer', 'name', host.name, 'netns', hub]);
      await ipIn(hub, 'link', 'set', host.name, 'master', 'br0');
      await ipIn(hub, 'link', 'set', host.name, 'up');
      await ipIn(host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
      await ipIn(host.namespace, 'link', 'set', 'eth0', 'up');
      await nftIn(host.namespace, `add table inet ${TABLE}\nadd chain inet ${TABLE} input { type filter hook input priority 0; policy accept; }\n`);
    }
  } catch (error) {
    await teardown().catch(() => undefined);
    throw error instanceof CommandError ? new LabUnavailableError(error.message) : error;
  }

  const host = (name: string): LabHost => {
    const found = byName.get(name);
    if (found === undefined) throw new RangeError(`no host ${name} in the lab`);
    return found;
  };

  const dropFrom = async (name: string, sources: readonly string[]): Promise<void> => {
    const target = host(name);
    const others = [...new Set(sources)].filter((source) => source !== name).sort();
    await nftIn(target.namespace, ruleScript(others.map((source) => host(source).address)));
    dropping.set(name, others);
  };

  return {
    prefix,
    hub,
    hosts,
    host,
    dropFrom,
    drops() {
      return Object.fromEntries([...dropping].map(([name, sources]) => [name, [...sources]]));
    },
    async healAll() {
      await Promise.all(hosts.map((entry) => dropFrom(entry.name, [])));
    },
    async pids(name) {
      return namespacePids(host(name).namespace);
    },
    teardown,
  };
}

/**
 * Whether process `pid` runs in network namespace `namespace` (same nsfs inode) and is a node
 * process (its command is `node`): the check that a signal reaches the node itself, not the
 * `ip netns exec` wrapper.
 */
export function isNodeInNamespace(pid: number, namespace: string): boolean {
  try {
    const same = statSync(`/proc/${pid}/ns/net`).ino === statSync(`/run/netns/${namespace}`).ino;
    return same && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'node';
  } catch {
    return false;
  }
}
