// How the command line reaches a running node: as a short-lived peer on the node's own
// transport, with the cluster's secret, asking over the control channel. It joins nothing (no
// membership, no Raft): it connects, asks, and leaves.
import { X509Certificate, randomBytes } from 'node:crypto';
import { FoundationError } from '@foundation/core';
import { RequestTimeoutError, createTransport, defaultLocalConfig } from '@foundation/channels';
import type { TlsOptions, Transport } from '@foundation/channels';
import { foundationChannels } from '../start-node';
import { InvalidOptionsError } from '../errors/invalid-options-error';
import { NAME, parseNodeId, urlOf } from '../options';

export interface RemoteNode {
  readonly node: string;
  /** Asks the node; waits for the reply as long as is left of the command's `timeoutMs`. */
  ask<Reply>(kind: string, fields?: Record<string, unknown>): Promise<Reply>;
  /** What is left of the command's `timeoutMs`, in whole ms (0 once spent). */
  leftMs(): number;
  close(): Promise<void>;
}

export interface ConnectOptions {
  readonly node: string;
  readonly secret: string;
  readonly cluster?: string;
  /** For a cluster with TLS: a certificate from the cluster CA; its subject CN names this peer. */
  readonly tls?: TlsOptions;
  /**
   * How long the whole command may take: connecting, then every reply. Default 5,000 ms. What
   * connecting took is not there again for a reply, so the command waits `timeoutMs` at most.
   */
  readonly timeoutMs?: number;
}

/** The subject CN of the certificate in `tls`: the name a node with TLS checks this peer's id against. */
function certificateName(tls: TlsOptions): string {
  const subject = new X509Certificate(tls.cert).subject;
  const commonName = /^CN=(.*)$/m.exec(subject)?.[1];
  if (commonName === undefined || !NAME.test(commonName)) {
    throw new InvalidOptionsError('tls', `the certificate's subject CN (${JSON.stringify(commonName ?? '')}) must be a node name: letters, digits, ".", "_" and "-"`);
  }
  return commonName;
}

export async function connectToNode(options: ConnectOptions): Promise<RemoteNode> {
  if (parseNodeId(options.node) === null) throw new InvalidOptionsError('node', `${JSON.stringify(options.node)} is not a node id name@host:port`);
  const timeoutMs = options.timeoutMs ?? 5000;
  const startedAt = performance.now();
  const leftMs = (): number => Math.max(0, Math.floor(timeoutMs - (performance.now() - startedAt)));
  const tls = options.tls;
  const transport: Transport = createTransport({
    nodeId: `${tls === undefined ? `cli-${randomBytes(4).toString('hex')}` : certificateName(tls)}@127.0.0.1:1`,
    cluster: options.cluster ?? 'foundation',
    listen: false,
    security: { secret: options.secret, ...(tls === undefined ? {} : { tls }) },
    channels: foundationChannels(),
    timing: defaultLocalConfig().timing,
    resolveAddress: (id) => urlOf(id, tls !== undefined),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(
          new FoundationError({
            type: 'network_error',
            code: 4101,
            message: `could not reach ${options.node} within ${timeoutMs} ms (is it running, and is FOUNDATION_SECRET the cluster's?)`,
          }),
        );
      }, timeoutMs);
      const off = transport.on('peer-up', (peer) => {
        if (peer !== options.node) return;
        clearTimeout(timer);
        off();
        resolve();
      });
      transport.connect(options.node);
    });
  } catch (error) {
    await transport.close();
    throw error;
  }
  return {
    node: options.node,
    ask: async <Reply>(kind: string, fields: Record<string, unknown> = {}) => {
      try {
        return (await transport.request(options.node, 'control', { ...fields, kind }, { timeout: leftMs() })) as Reply;
      } catch (error) {
        // The request had only what was left; the user gave the whole, which is what ran out.
        if (error instanceof RequestTimeoutError) throw new RequestTimeoutError(options.node, 'control', timeoutMs);
        throw error;
      }
    },
    leftMs,
    close: () => transport.close(),
  };
}
