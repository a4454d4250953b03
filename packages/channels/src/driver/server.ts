// The listening side: an HTTP (or HTTPS, with mutual TLS) server whose upgrade requests become
// WebSockets. Admission control starts at the TCP connection, before TLS and before the upgrade
// request, so a client that connects and says nothing holds a counted slot and is closed at the
// handshake deadline. A refused upgrade is still completed so that the refusal reaches the
// dialer as a specific close code.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Scheduler, Timer } from '@foundation/core';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { TlsOptions } from '../options';
import type { Refusal } from './connection';

/** One accepted TCP connection, from `connection` on the server until its socket closes. */
export interface Admission {
  readonly remoteAddress: string;
  /** Monotonic ms of the TCP accept: the handshake deadline counts from here. */
  readonly acceptedAt: number;
  /** Over a limit on arrival: it holds no slot and is refused (with this code) if it upgrades. */
  readonly refusal: Refusal;
  /** Still counted as a handshake in progress (until the protocol handshake opens it). */
  pending: boolean;
}

export interface ListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsOptions | undefined;
  /** Hard cap of one WebSocket message (ws closes with 1009 above it, before buffering). */
  readonly maxPayload: number;
  /** TLS, upgrade request and protocol handshake together must finish within this (ms). */
  readonly handshakeTimeoutMs: number;
  readonly clock: Scheduler;
  /**
   * A TCP connection arrived: an admission (holding a slot, or marked for refusal at its
   * upgrade), or a refusal that destroys the socket at once (no WebSocket exists yet to carry a code).
   */
  readonly accept: (remoteAddress: string) => Admission | NonNullable<Refusal>;
  /** The TCP connection of `admission` closed (for whatever reason). */
  readonly release: (admission: Admission) => void;
  /** No upgrade request (or TLS handshake) within the deadline: the socket is destroyed. */
  readonly timedOut: (admission: Admission) => void;
  /** A WebSocket to run the handshake on; `certificate` is the client's (TLS only, empty when it sent none). */
  readonly connection: (socket: WebSocket, admission: Admission, certificate: PeerCertificate | undefined) => void;
  readonly refused: (socket: WebSocket, remoteAddress: string, refusal: NonNullable<Refusal>) => void;
  /**
   * The server emitted an error once listening (a failed accept: libuv absorbs EMFILE, not every
   * errno). It goes on listening; a failed listen rejects `ready` instead.
   */
  readonly failed: (error: Error) => void;
}

export interface Listener {
  readonly ready: Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

interface Tracked {
  readonly socket: Socket;
  readonly admission: Admission;
  deadline: Timer | undefined;
  expired: boolean;
}

/** The same TCP connection seen as the raw socket and, with TLS, as the TLSSocket on top of it. */
function socketKey(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? '?'}|${socket.remotePort ?? '?'}`;
}

export function createListener(options: ListenerOptions): Listener {
  const tls = options.tls;
  const timeoutMs = options.handshakeTimeoutMs;
  // Node's own HTTP timeouts, tight too (its defaults hold a silent socket for 60 s): headers and
  // the whole request within the handshake deadline, checked often enough to matter.
  const httpOptions = { headersTimeout: timeoutMs, requestTimeout: timeoutMs, connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(timeoutMs / 2))) };
  const server: Server =
    tls === undefined
      ? createHttpServer(httpOptions)
      : createHttpsServer({
          ...tls.extra,
          ...httpOptions,
          cert: tls.cert,
          key: tls.key,
          ca: tls.ca as string | Buffer | (string | Buffer)[],
          requestCert: tls.mutual ?? true,
          rejectUnauthorized: true,
          handshakeTimeout: timeoutMs,
        });
  const webSockets = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload,
    perMessageDeflate: false,
    skipUTF8Validation: true,
    clientTracking: false,
  });
  const tracked = new Map<string, Tracked>();
  const sockets = new Set<Duplex>();

  /** No upgrade within the deadline: report once and drop the socket. */
  const expire = (entry: Tracked): void => {
    entry.deadline?.cancel();
    entry.deadline = undefined;
    if (entry.expired) return;
    entry.expired = true;
    options.timedOut(entry.admission);
    entry.socket.destroy();
  };

  server.on('connection', (socket: Socket) => {
    const remoteAddress = socket.remoteAddress ?? 'unknown';
    const admission = options.accept(remoteAddress);
    if (!('acceptedAt' in admission)) {
      socket.destroy();
      return;
    }
    const key = socketKey(socket);
    const entry: Tracked = { socket, admission, deadline: undefined, expired: false };
    entry.deadline = options.clock.setTimer(timeoutMs, () => expire(entry));
    tracked.set(key, entry);
    socket.once('close', () => {
      entry.deadline?.cancel();
      if (tracked.get(key) === entry) tracked.delete(key);
      options.release(admission);
    });
  });
  server.on('request', (_request, response) => {
    response.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
    response.end('foundation-channels: WebSocket upgrade required\n');
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const entry = tracked.get(socketKey(request.socket));
    if (entry === undefined) {
      // Not seen arriving (cannot happen with one server): refuse to serve what is not counted.
      socket.destroy();
      return;
    }
    // The protocol handshake's own deadline (from the same accept time) takes over.
    entry.deadline?.cancel();
    entry.deadline = undefined;
    const { admission } = entry;
    const certificate = tls === undefined ? undefined : (request.socket as TLSSocket).getPeerCertificate();
    webSockets.handleUpgrade(request, socket, head, (webSocket) => {
      if (admission.refusal === undefined) options.connection(webSocket, admission, certificate);
      else options.refused(webSocket, admission.remoteAddress, admission.refusal);
    });
  });
  // Node's own timeouts may see a silent socket first (the same deadline); count it once.
  const isTimeout = (error: Error & { code?: string }): boolean => error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT';
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex & { remoteAddress?: string; remotePort?: number }) => {
    const entry = tracked.get(socketKey(socket));
    if (entry !== undefined && isTimeout(error)) expire(entry);
    socket.destroy();
  });
  // TLS handshake failures (no or bad client certificate) end here; the socket is already gone.
  server.on('tlsClientError', (error: Error & { code?: string }, socket: TLSSocket) => {
    const entry = tracked.get(socketKey(socket));
    if (entry !== undefined && isTimeout(error)) expire(entry);
  });

  const ready = new Promise<{ host: string; port: number }>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      // From here on nothing else listens for the server's errors: an 'error' event with no
      // listener is thrown, and would have ended the process from inside Node's accept callback.
      server.on('error', options.failed);
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
        for (const entry of tracked.values()) {
          entry.deadline?.cancel();
          entry.socket.destroy();
        }
        webSockets.close();
        if (!server.listening) {
          // The listen may still be under way (its address lookup is asynchronous, even for a
          // literal): closed now, the socket would open after close() and hold its port for the
          // life of the process. A listen that failed has nothing to close.
          ready.then(
            () => {
              server.close(() => resolve());
              server.closeAllConnections();
            },
            () => resolve(),
          );
          return;
        }
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
