// The listening side: an HTTP (or HTTPS, with mutual TLS) server whose upgrade requests become
// WebSockets. Admission control runs before the WebSocket exists; a refused upgrade is still
// completed so that the refusal reaches the dialer as a specific close code.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { TlsOptions } from '../options';
import type { Refusal } from './connection';

export interface ListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsOptions | undefined;
  /** Hard cap of one WebSocket message (ws closes with 1009 above it, before buffering). */
  readonly maxPayload: number;
  /** Admission control by remote address, before the WebSocket is created. */
  readonly admit: (remoteAddress: string) => Refusal;
  /** A WebSocket to run the handshake on; `certificate` is the client's (TLS only, empty when it sent none). */
  readonly connection: (socket: WebSocket, remoteAddress: string, certificate: PeerCertificate | undefined) => void;
  readonly refused: (socket: WebSocket, remoteAddress: string, refusal: NonNullable<Refusal>) => void;
}

export interface Listener {
  readonly ready: Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

export function createListener(options: ListenerOptions): Listener {
  const tls = options.tls;
  const server: Server =
    tls === undefined
      ? createHttpServer()
      : createHttpsServer({
          ...tls.extra,
          cert: tls.cert,
          key: tls.key,
          ca: tls.ca as string | Buffer | (string | Buffer)[],
          requestCert: tls.mutual ?? true,
          rejectUnauthorized: true,
        });
  const webSockets = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload,
    perMessageDeflate: false,
    skipUTF8Validation: true,
    clientTracking: false,
  });
  const sockets = new Set<Duplex>();

  server.on('request', (_request, response) => {
    response.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
    response.end('foundation-channels: WebSocket upgrade required\n');
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const remoteAddress = request.socket.remoteAddress ?? 'unknown';
    const refusal = options.admit(remoteAddress);
    const certificate = tls === undefined ? undefined : (request.socket as TLSSocket).getPeerCertificate();
    webSockets.handleUpgrade(request, socket, head, (webSocket) => {
      if (refusal === undefined) options.connection(webSocket, remoteAddress, certificate);
      else options.refused(webSocket, remoteAddress, refusal);
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  // TLS handshake failures (no or bad client certificate) end here; the socket is already gone.
  server.on('tlsClientError', () => undefined);

  const ready = new Promise<{ host: string; port: number }>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('listening socket has no address'));
      else resolve({ host: address.address, port: address.port });
    });
  });
  // A failed listen is reported through `ready`; avoid an unhandled rejection if nobody awaits it.
  ready.catch(() => undefined);

  return {
    ready,
    close() {
      return new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        sockets.clear();
        webSockets.close();
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
