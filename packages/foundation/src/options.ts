// startNode's options: what a user may pass, the defaults that make `startNode()` work alone on
// one machine, and the checks that turn a mistake into a clear error.
import { createServer } from 'node:net';
import { join } from 'node:path';
import { X509Certificate, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import { certificateNamesNode } from '@foundation/channels';
import type { TlsOptions } from '@foundation/channels';
import type { Random, Scheduler } from '@foundation/core';
import { isValidNodeId } from '@foundation/process';
import type { ConfigOptions } from '@foundation/config';
import type { EventStorage } from '@foundation/events';
import { InvalidOptionsError } from './errors/invalid-options-error';

export interface StartNodeOptions {
  /**
   * The node's name; its id becomes `name@host:port`, the way Erlang names nodes, so that any
   * node can reach another from its id alone. An id given in that form is used as it is.
   * Default `node-` and six random hex digits.
   */
  readonly name?: string;
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port to listen on. Default an ephemeral free port. */
  readonly port?: number;
  /** Ids (`name@host:port`) of nodes already in the cluster. None: this node starts a cluster. */
  readonly seeds?: readonly string[];
  /** Cluster name: nodes of different clusters refuse each other. Default `foundation`. */
  readonly cluster?: string;
  /**
   * Shared secret (at least 16 bytes) every node of the cluster holds; never sent. Default the
   * `FOUNDATION_SECRET` environment variable; a node without seeds and without a secret makes a
   * random one (it can then only be joined by nodes given that secret).
   */
  readonly secret?: string;
  /**
   * Mutual TLS between nodes (`wss`), with `@foundation/channels`' options: this node's `cert`
   * and `key` and the cluster CA (`ca`), PEM. By default a peer's certificate must name the node
   * id it claims, or that id's name (the part before `@`), as its subject CN or a DNS or URI
   * subject alternative name; `bindNodeId` changes that. Default: from the files named by
   * `FOUNDATION_TLS_CERT`, `FOUNDATION_TLS_KEY` and `FOUNDATION_TLS_CA` when all three are set;
   * otherwise none (traffic is authenticated by the secret but not encrypted).
   */
  readonly tls?: TlsOptions;
  /**
   * Mask WebSocket frames with random keys as RFC 6455 requires of clients (see
   * `@foundation/channels`' `security.maskFrames`), for plain `ws://` through intermediaries.
   * Default false.
   */
  readonly maskFrames?: boolean;
  /** Where Raft keeps its log and snapshots. Default `.foundation/<name>-<port>` under the working directory. */
  readonly dataDir?: string;
  /**
   * Ids of the Raft voters (the nodes that agree on cluster-wide state), the same list on each of
   * them; other nodes follow as learners. Default: this node alone when it has no seeds;
   * otherwise none (it joins as a learner).
   */
  readonly voters?: readonly string[];
  /**
   * How long a node with seeds keeps trying to join (seeds not listening yet, a first leader
   * still being elected) before startNode rejects. Default 30,000 ms.
   */
  readonly joinTimeoutMs?: number;
  /** Timings: `local` (fast, for one machine and tests) or `lan` (default). */
  readonly timing?: 'local' | 'lan';
  /**
   * Raft entries applied between two snapshots of the cluster state (which let the log be
   * compacted, and bring a node that fell far behind up to date in one transfer). Default
   * 10,000, Raft's own; a whole number from 1.
   */
  readonly snapshotEvery?: number;
  /** Application configuration (`@foundation/config`); cluster-wide updates go through Raft. */
  readonly config?: Omit<ConfigOptions<Record<string, unknown>>, 'clock'>;
  /**
   * Event storage. Default in memory. One passed in stays the caller's: `stop()` closes the
   * node's event store but leaves this storage open.
   */
  readonly eventStorage?: EventStorage;
  /** Membership topology. Default `auto`. */
  readonly topology?: 'auto' | 'full-mesh' | 'hyparview' | 'client-server';
  readonly clock?: Scheduler;
  readonly random?: Random;
  /**
   * Stops the start: aborted before `startNode` resolves (a node still joining, say), it rejects
   * with the signal's reason once what it had started is stopped (with a StartAbortedError,
   * 6111, the reason its cause, when stopping that failed). Aborted later, it does nothing: the
   * node's `stop()` stops it.
   */
  readonly signal?: AbortSignal;
}

export interface ResolvedOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly nodeId: string;
  readonly seeds: readonly string[];
  readonly cluster: string;
  readonly secret: string;
  readonly tls: TlsOptions | undefined;
  readonly maskFrames: boolean;
  readonly dataDir: string;
  readonly joinTimeoutMs: number;
  readonly voters: readonly string[];
  readonly timing: 'local' | 'lan';
  /** Undefined: Raft's default. */
  readonly snapshotEvery: number | undefined;
}

export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const NODE_ID = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,62})@([A-Za-z0-9_.:[\]-]+):(\d{1,5})$/;

/** Splits `name@host:port`, or null when `id` is not of that form. */
export function parseNodeId(id: string): { readonly name: string; readonly host: string; readonly port: number } | null {
  const match = NODE_ID.exec(id);
  if (match === null) return null;
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return null;
  return { name: match[1]!, host: match[2]!, port };
}

/** The WebSocket URL a node id names (`wss://` for a cluster with TLS). */
export function urlOf(id: string, secure = false): string | undefined {
  const parsed = parseNodeId(id);
  return parsed === null ? undefined : `${secure ? 'wss' : 'ws'}://${parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host}:${parsed.port}`;
}

/**
 * Foundation's default binding of node ids to certificates: the certificate names the whole id
 * (`name@host:port`) or its name, so that one certificate per node name serves whatever address
 * the node listens on.
 */
export function certificateNamesNodeOrName(nodeId: string, certificate: PeerCertificate): boolean {
  if (certificateNamesNode(nodeId, certificate)) return true;
  const parsed = parseNodeId(nodeId);
  return parsed !== null && certificateNamesNode(parsed.name, certificate);
}

const TLS_ENVIRONMENT = ['FOUNDATION_TLS_CERT', 'FOUNDATION_TLS_KEY', 'FOUNDATION_TLS_CA'] as const;

/** TLS options from `tls`, else from the files the environment names; undefined for none. */
export function resolveTls(tls: TlsOptions | undefined, environment: NodeJS.ProcessEnv): TlsOptions | undefined {
  let given = tls;
  if (given === undefined) {
    const paths = TLS_ENVIRONMENT.map((name) => environment[name]);
    if (paths.every((path) => path === undefined || path === '')) return undefined;
    const missing = TLS_ENVIRONMENT.filter((_, index) => paths[index] === undefined || paths[index] === '');
    if (missing.length > 0) throw new InvalidOptionsError('tls', `needs all of ${TLS_ENVIRONMENT.join(', ')} in the environment (missing ${missing.join(', ')})`);
    const [cert, key, ca] = paths.map((path, index) => {
      try {
        return readFileSync(path!, 'utf8');
      } catch (error) {
        throw new InvalidOptionsError('tls', `cannot read ${TLS_ENVIRONMENT[index]!} (${path!}): ${(error as Error).message}`);
      }
    }) as [string, string, string];
    given = { cert, key, ca };
  }
  if (typeof given !== 'object' || given === null) throw new InvalidOptionsError('tls', 'must be an object with cert, key and ca');
  const pem = (value: unknown): boolean => typeof value === 'string' || Buffer.isBuffer(value);
  if (!pem(given.cert) || !pem(given.key)) throw new InvalidOptionsError('tls', 'needs cert and key (PEM strings or Buffers)');
  // Read by index (Array.from): every() skips the holes of a sparse list, and so did the check of each CA below.
  if (!pem(given.ca) && !(Array.isArray(given.ca) && given.ca.length > 0 && Array.from(given.ca as unknown[]).every(pem))) throw new InvalidOptionsError('tls', 'needs ca, the cluster CA (PEM)');
  checkCertificates(given);
  if (given.bindNodeId !== undefined || given.mutual === false) return given;
  return { ...given, bindNodeId: certificateNamesNodeOrName };
}

/**
 * Refuses TLS files that cannot work, naming which: left to the transport, a certificate or key
 * that is not PEM, or a key of another certificate, failed with a bare OpenSSL error, and a CA
 * that is not PEM failed nothing at all (every handshake did, and a node "could not reach" any).
 */
function checkCertificates(tls: TlsOptions): void {
  try {
    createSecureContext({ ...tls.extra, cert: tls.cert, key: tls.key });
  } catch (error) {
    throw new InvalidOptionsError('tls', `cert and key are not a certificate and its private key: ${(error as Error).message}`, error);
  }
  for (const ca of [tls.ca].flat()) {
    try {
      new X509Certificate(ca);
    } catch (error) {
      throw new InvalidOptionsError('tls', `ca is not a PEM certificate: ${(error as Error).message}`, error);
    }
  }
}

export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function text(option: string, value: unknown, pattern?: RegExp, secret = false): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || (pattern !== undefined && !pattern.test(value))) {
    // A secret is never echoed: a Buffer from readFileSync without an encoding printed its bytes.
    const got = secret ? (value instanceof Uint8Array ? 'bytes' : typeof value) : JSON.stringify(value);
    throw new InvalidOptionsError(option, `must be a string${pattern === undefined ? '' : ` matching ${String(pattern)}`} (got ${got})`);
  }
  return value;
}

export async function resolveOptions(options: StartNodeOptions, environment: NodeJS.ProcessEnv = process.env): Promise<ResolvedOptions> {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionsError('options', 'must be an object');
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new InvalidOptionsError('signal', 'must be an AbortSignal');
  options.signal?.throwIfAborted();
  const givenName = text('name', options.name);
  const parsedName = givenName === undefined ? null : parseNodeId(givenName);
  // A node id names where peers reach this node: listen there unless told otherwise (`host`
  // 0.0.0.0 behind NAT, say). It listened on 127.0.0.1 whatever the id said.
  const host = text('host', options.host) ?? parsedName?.host.replace(/^\[(.*)\]$/, '$1') ?? '127.0.0.1';
  if (givenName !== undefined && parsedName === null && !NAME.test(givenName)) {
    throw new InvalidOptionsError('name', 'must be 1–63 characters of letters, digits, ".", "_" and "-", or a node id name@host:port');
  }
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535)) {
    throw new InvalidOptionsError('port', `must be an integer in 0..65535 (got ${String(options.port)})`);
  }
  if (parsedName !== null && options.port !== undefined && options.port !== 0 && options.port !== parsedName.port) {
    throw new InvalidOptionsError('port', `is ${options.port}, but the node id ${givenName!} says ${parsedName.port}`);
  }
  const port = parsedName?.port ?? (options.port === undefined || options.port === 0 ? await freePort(host) : options.port);
  const name = parsedName?.name ?? givenName ?? `node-${randomBytes(3).toString('hex')}`;
  const nodeId = `${name}@${parsedName?.host ?? host}:${port}`;
  // The process runtime refuses other node ids after the transport has bound its port; they are
  // refused here, before it. An IPv6 address goes in without brackets: name@::1:4000.
  const shownId = JSON.stringify(nodeId.slice(0, 300));
  if (!isValidNodeId(nodeId)) {
    throw new InvalidOptionsError('name', `makes the node id ${shownId}, which is not 1–255 characters of letters, digits and _.:@+/- (write an IPv6 host without brackets)`);
  }
  // Checked before anything binds a port (the membership would throw later, with the port held).
  if (options.topology !== undefined && !(['auto', 'full-mesh', 'hyparview', 'client-server'] as unknown[]).includes(options.topology)) {
    throw new InvalidOptionsError('topology', `must be auto, full-mesh, hyparview or client-server (got ${JSON.stringify(options.topology)})`);
  }
  const seeds = options.seeds ?? [];
  if (!Array.isArray(seeds)) throw new InvalidOptionsError('seeds', 'must be an array of node ids');
  for (const seed of seeds) {
    if (typeof seed !== 'string' || parseNodeId(seed) === null) throw new InvalidOptionsError('seeds', `holds ${JSON.stringify(seed)}, not a node id name@host:port`);
  }
  const cluster = text('cluster', options.cluster, /^[\x21-\x7e]{1,200}$/) ?? 'foundation';
  let secret = text('secret', options.secret, undefined, true) ?? environment.FOUNDATION_SECRET;
  if (secret === undefined) {
    if (seeds.length > 0) throw new InvalidOptionsError('secret', 'is needed to join a cluster: pass secret or set FOUNDATION_SECRET');
    secret = randomBytes(24).toString('base64');
  }
  if (Buffer.byteLength(secret, 'utf8') < 16) throw new InvalidOptionsError('secret', 'must be at least 16 bytes');
  const tls = resolveTls(options.tls, environment);
  const maskFrames = options.maskFrames ?? false;
  if (typeof maskFrames !== 'boolean') throw new InvalidOptionsError('maskFrames', 'must be a boolean');
  const voters = options.voters ?? (seeds.length === 0 ? [nodeId] : []);
  if (!Array.isArray(voters)) throw new InvalidOptionsError('voters', 'must be an array of node ids');
  for (const voter of voters) {
    if (typeof voter !== 'string' || parseNodeId(voter) === null) throw new InvalidOptionsError('voters', `holds ${JSON.stringify(voter)}, not a node id name@host:port`);
  }
  if (voters.length === 0 && seeds.length === 0) throw new InvalidOptionsError('voters', 'is empty and there are no seeds: nobody could lead');
  const timing = options.timing ?? 'lan';
  if (timing !== 'local' && timing !== 'lan') throw new InvalidOptionsError('timing', 'must be "local" or "lan"');
  const dataDir = text('dataDir', options.dataDir) ?? join(process.cwd(), '.foundation', `${name}-${port}`);
  const joinTimeoutMs = options.joinTimeoutMs ?? 30_000;
  if (!Number.isFinite(joinTimeoutMs) || joinTimeoutMs <= 0) throw new InvalidOptionsError('joinTimeoutMs', 'must be a positive number of milliseconds');
  const { snapshotEvery } = options;
  if (snapshotEvery !== undefined && !(Number.isSafeInteger(snapshotEvery) && snapshotEvery >= 1)) {
    throw new InvalidOptionsError('snapshotEvery', `must be a whole number of entries from 1 (got ${String(snapshotEvery)})`);
  }
  return { name, host, port, nodeId, seeds, cluster, secret, tls, maskFrames, dataDir, voters, timing, joinTimeoutMs, snapshotEvery };
}
