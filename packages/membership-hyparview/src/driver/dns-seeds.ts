// Seeds from DNS, as libcluster's DNS strategies find nodes: A and AAAA records (a headless
// service listing every node's address) or SRV records (host and port per node). The membership
// re-resolves the name every `seedRefreshMs`, so nodes that come and go are seen.
import { promises as dns } from 'node:dns';
import { MembershipConfigError } from '../errors/membership-config-error';
import { SeedResolutionError } from '../errors/seed-resolution-error';
import { defaultLanConfig } from '../core/config';
import { boundSeeds } from './seeds';
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
  /** Ends every query in flight (as `Resolver#cancel` does); called when a lookup's signal aborts. */
  cancel?(): void;
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
  /**
   * A resolver; default a new `dns.promises.Resolver` (with `servers` when given). A lookup whose
   * signal aborts calls its `cancel`, which ends every query of this resolver in flight.
   */
  readonly resolver?: DnsResolverLike;
  /** DNS servers (`host` or `host:port`) for the default resolver. */
  readonly servers?: readonly string[];
  /** Per-query timeout of the default resolver. Default 2,000 ms. */
  readonly timeoutMs?: number;
  /** Most seeds returned. Default 256 (the membership's `maxSeeds`, which bounds every seed source). */
  readonly maxSeeds?: number;
}

export function defaultNodeId(address: DnsAddress): string {
  const host = address.host.endsWith('.') ? address.host.slice(0, -1) : address.host;
  const shown = host.includes(':') ? `[${host}]` : host;
  return address.port === undefined ? shown : `${shown}:${address.port}`;
}

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
  const maxSeeds = options.maxSeeds ?? defaultLanConfig().maxSeeds;
  // The bound is checked after a seed is taken: NaN would bound nothing, and 0 still gave one.
  if (!Number.isInteger(maxSeeds) || maxSeeds < 1) throw new MembershipConfigError('seeds.maxSeeds', 'must be a positive integer');
  const toNodeId = options.toNodeId ?? defaultNodeId;
  const createResolver = (): dns.Resolver => {
    const created = new dns.Resolver({ timeout: options.timeoutMs ?? 2_000, tries: 2 });
    if (options.servers !== undefined) created.setServers([...options.servers]);
    return created;
  };
  // Made now even when lookups with a signal get their own: a bad server address fails here.
  const shared: DnsResolverLike = options.resolver ?? createResolver();
  const name = options.name;

  /** The addresses, or the error that prevented getting any (a rejection of the resolver, as it came). */
  const lookup = async (source: DnsResolverLike): Promise<{ readonly addresses: DnsAddress[] } | { readonly failure: unknown }> => {
    if (type === 'SRV') {
      try {
        const records = await source.resolveSrv(name);
        // Lower priority first, then heavier weight, as SRV clients prefer them.
        records.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
        // A target of "." means the service is not available there (RFC 2782): no address.
        return { addresses: records.filter((record) => record.name !== '.' && record.name !== '').map((record) => ({ host: record.name, port: record.port, type: 'SRV' as const })) };
      } catch (error) {
        return { failure: error };
      }
    }
    // Each query from within a promise chain: a resolver of one's own that throws rather than
    // rejects fails like one that rejects (SeedResolutionError), not with its error as it was.
    const queries: Promise<DnsAddress[]>[] = [];
    if (type !== 'AAAA') queries.push(Promise.resolve().then(async () => (await source.resolve4(name)).map((host) => ({ host, port: options.port, type: 'A' as const }))));
    if (type !== 'A') queries.push(Promise.resolve().then(async () => (await source.resolve6(name)).map((host) => ({ host, port: options.port, type: 'AAAA' as const }))));
    const settled = await Promise.allSettled(queries);
    const addresses: DnsAddress[] = [];
    let failure: unknown;
    for (const outcome of settled) {
      if (outcome.status === 'fulfilled') addresses.push(...outcome.value);
      // With A+AAAA, a family the name does not have is no failure as long as the other answers.
      else failure ??= outcome.reason;
    }
    if (addresses.length > 0) return { addresses };
    return failure === undefined ? { addresses } : { failure };
  };

  /** The seeds of a lookup's outcome; a failure, or an answer without a usable record, throws SeedResolutionError. */
  const seedsOf = (outcome: { readonly addresses: DnsAddress[] } | { readonly failure: unknown }): string[] => {
    if ('failure' in outcome) {
      const reason = code(outcome.failure) ?? (typeof (outcome.failure as { message?: unknown } | undefined)?.message === 'string' ? (outcome.failure as { message: string }).message : 'lookup failed');
      throw new SeedResolutionError(name, reason, outcome.failure);
    }
    const seeds = boundSeeds(outcome.addresses, maxSeeds, toNodeId);
    if (seeds.length === 0) throw new SeedResolutionError(name, 'no usable records');
    return seeds;
  };

  return {
    name: `dns(${type} ${name})`,
    async resolve(signal?: AbortSignal) {
      if (signal === undefined) return seedsOf(await lookup(shared));
      signal.throwIfAborted();
      // A lookup that can be stopped gets a resolver of its own (unless one was given): cancelling
      // a resolver ends all of its queries, and another membership sharing this provider would
      // otherwise see its own lookup fail because this one left.
      const source = options.resolver ?? createResolver();
      return seedsOf(await untilAborted(lookup(source), signal, source));
    },
  };
}

/**
 * What `work` gives, or the signal's reason as soon as it aborts, the resolver's queries then
 * cancelled: a lookup stopped at leave() neither waits out its timeout and retries nor answers.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal, resolver: DnsResolverLike): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const aborted = (): void => {
      try {
        resolver.cancel?.();
      } catch {
        // A resolver of one's own that fails to cancel: the lookup is given up all the same.
      }
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', aborted, { once: true });
    // The listener goes when the lookup ends: the membership passes one signal to all its lookups.
    work.then(
      (value) => {
        signal.removeEventListener('abort', aborted);
        resolve(value);
      },
      // Not taken while `lookup` turns every failure into an outcome; kept so that none waits for ever.
      (error: Error) => {
        signal.removeEventListener('abort', aborted);
        reject(error);
      },
    );
  });
}
