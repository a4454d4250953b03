// Seeds from DNS, as libcluster's DNS strategies find nodes: A and AAAA records (a headless
// service listing every node's address) or SRV records (host and port per node). The membership
// re-resolves the name every `seedRefreshMs`, so nodes that come and go are seen.
import { promises as dns } from 'node:dns';
import { MembershipConfigError } from '../errors/membership-config-error';
import { SeedResolutionError } from '../errors/seed-resolution-error';
import type { SeedProvider } from './seeds';

export type DnsRecordType = 'A' | 'AAAA' | 'A+AAAA' | 'SRV';

/** An address as DNS gave it. */
export interface DnsAddress {
  readonly host: string;
  /** From the SRV record, or the `port` option for A/AAAA. */
  readonly port: number | undefined;
  readonly type: 'A' | 'AAAA' | 'SRV';
}

/** The part of `dns.promises.Resolver` this provider uses. */
export interface DnsResolverLike {
  resolve4(hostname: string): Promise<string[]>;
  resolve6(hostname: string): Promise<string[]>;
  resolveSrv(hostname: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
}

export interface DnsSeedsOptions {
  /** The name to resolve, e.g. `cluster.default.svc.cluster.local` or `_foundation._tcp.example.com`. */
  readonly name: string;
  /** Record type. Default `A+AAAA` (either may be absent). */
  readonly type?: DnsRecordType;
  /** The port nodes listen on, for A/AAAA answers (node ids are `host:port` by default). */
  readonly port?: number;
  /** Maps an address to a node id; undefined skips it. Default `host:port` (`[v6]:port`), or the host alone without a port. */
  readonly toNodeId?: (address: DnsAddress) => string | undefined;
  /** A resolver; default a new `dns.promises.Resolver` (with `servers` when given). */
  readonly resolver?: DnsResolverLike;
  /** DNS servers (`host` or `host:port`) for the default resolver. */
  readonly servers?: readonly string[];
  /** Per-query timeout of the default resolver. Default 2,000 ms. */
  readonly timeoutMs?: number;
  /** Most seeds returned. Default 256. */
  readonly maxSeeds?: number;
}

export function defaultNodeId(address: DnsAddress): string {
  const host = address.host.endsWith('.') ? address.host.slice(0, -1) : address.host;
  const shown = host.includes(':') ? `[${host}]` : host;
  return address.port === undefined ? shown : `${shown}:${address.port}`;
}

const ABSENT = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'NODATA']);

function code(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : undefined;
}

/** A seed provider over DNS. Failures reject with `SeedResolutionError` (code 5904). */
export function createDnsSeeds(options: DnsSeedsOptions): SeedProvider {
  if (typeof options.name !== 'string' || options.name.length === 0 || options.name.length > 253) throw new MembershipConfigError('seeds.name', 'must be a DNS name');
  const type = options.type ?? 'A+AAAA';
  if (!['A', 'AAAA', 'A+AAAA', 'SRV'].includes(type)) throw new MembershipConfigError('seeds.type', 'must be A, AAAA, A+AAAA or SRV');
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535)) {
    throw new MembershipConfigError('seeds.port', 'must be a port number');
  }
  const maxSeeds = options.maxSeeds ?? 256;
  const toNodeId = options.toNodeId ?? defaultNodeId;
  let resolver = options.resolver;
  if (resolver === undefined) {
    const created = new dns.Resolver({ timeout: options.timeoutMs ?? 2_000, tries: 2 });
    if (options.servers !== undefined) created.setServers([...options.servers]);
    resolver = created;
  }
  const source: DnsResolverLike = resolver;
  const name = options.name;

  const lookup = async (): Promise<DnsAddress[]> => {
    if (type === 'SRV') {
      const records = await source.resolveSrv(name);
      // Lower priority first, then heavier weight, as SRV clients prefer them.
      records.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
      return records.map((record) => ({ host: record.name, port: record.port, type: 'SRV' as const }));
    }
    const queries: Promise<DnsAddress[]>[] = [];
    if (type !== 'AAAA') queries.push(source.resolve4(name).then((hosts) => hosts.map((host) => ({ host, port: options.port, type: 'A' as const }))));
    if (type !== 'A') queries.push(source.resolve6(name).then((hosts) => hosts.map((host) => ({ host, port: options.port, type: 'AAAA' as const }))));
    const settled = await Promise.allSettled(queries);
    const addresses: DnsAddress[] = [];
    let failure: unknown;
    for (const outcome of settled) {
      if (outcome.status === 'fulfilled') addresses.push(...outcome.value);
      else if (!ABSENT.has(code(outcome.reason) ?? '') || settled.length === 1) failure ??= outcome.reason;
    }
    if (addresses.length === 0 && failure === undefined && settled.every((outcome) => outcome.status === 'rejected')) {
      failure = (settled[0] as PromiseRejectedResult).reason;
    }
    if (failure !== undefined && addresses.length === 0) throw failure instanceof Error ? failure : new Error('lookup failed', { cause: failure });
    return addresses;
  };

  return {
    name: `dns(${type} ${name})`,
    async resolve() {
      let addresses: DnsAddress[];
      try {
        addresses = await lookup();
      } catch (error) {
        throw new SeedResolutionError(name, code(error) ?? (error instanceof Error ? error.message : 'lookup failed'), error);
      }
      const seeds: string[] = [];
      for (const address of addresses) {
        const id = toNodeId(address);
        if (id !== undefined && id.length > 0 && !seeds.includes(id)) seeds.push(id);
        if (seeds.length >= maxSeeds) break;
      }
      if (seeds.length === 0) throw new SeedResolutionError(name, 'no usable records');
      return seeds;
    },
  };
}
