// How the command line reaches a running node: as a short-lived peer on the node's own
// transport, with the cluster's secret, asking over the control channel. It joins nothing (no
// membership, no Raft): it connects, asks, and leaves.
import { X509Certificate, randomBytes } from 'node:crypto';
import { FoundationError } from '@foundation/core';
import { createTransport, defaultLocalConfig } from '@foundation/channels';
import type { TlsOptions, Transport } from '@foundation/channels';
import { foundationChannels } from '../start-node';
import { InvalidOptionsError } from '../errors/invalid-options-error';
import { NAME, parseNodeId, urlOf } from '../options';

export interface RemoteNode {
  readonly node: string;
  ask<Reply>(kind: string, fields?: Record<string, unknown>, timeoutMs?: number): Promise<Reply>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  readonly node: string;
  readonly secret: string;
  readonly cluster?: string;
  /** For a cluster with TLS: a certificate from the cluster CA; its subject CN names this peer. */
  readonly tls?: TlsOptions;
  /** How long to wait for the connection. Default 5,000 ms. */
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
    ask: async <Reply>(kind: string, fields: Record<string, unknown> = {}, askTimeoutMs = timeoutMs) =>
      (await transport.request(options.node, 'control', { ...fields, kind }, { timeout: askTimeoutMs })) as Reply,
    close: () => transport.close(),
  };
}
