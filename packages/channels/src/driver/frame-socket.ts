// What a Connection needs of its WebSocket, so that one can be ws's own (on this thread) or one
// that a socket thread reads and writes (socket-thread.ts). Events go to one set of listeners,
// the connection's; ws's own socket hands them over without a layer in between.
import type { ClientOptions, WebSocket } from 'ws';
import type { Assembled } from '../core/reassembly';
import type { DialOptions } from './socket-thread-protocol';

export type { Assembled } from '../core/reassembly';

/** The states of RFC 6455's readyState, as ws numbers them. */
export const SOCKET_STATE = { connecting: 0, open: 1, closing: 2, closed: 3 } as const;

export interface FrameSocketListeners {
  /** A whole message; `data` may be read only until this call returns (see ThreadSocket). */
  readonly message: (data: Buffer, isBinary: boolean, assembled?: Assembled) => void;
  readonly open: () => void;
  readonly ping: () => void;
  readonly pong: () => void;
  readonly close: (code: number, reason: string) => void;
  /** ws's errors carry a `code`: WS_ERR_* for the peer's protocol violations (a close follows). */
  readonly error: (error: Error & { code?: string }) => void;
}

export interface FrameSocket {
  /** One of SOCKET_STATE. */
  readonly readyState: number;
  /** Bytes accepted by `send` and not yet handed to the kernel (as far as this thread knows). */
  readonly bufferedAmount: number;
  readonly isPaused: boolean;
  /** Called once, by the connection that owns the socket. */
  listen(listeners: FrameSocketListeners): void;
  /** `onWritten` runs once `frame` may be reused: written (or failed to be), or copied away. */
  send(frame: Uint8Array, onWritten?: () => void): void;
  ping(): void;
  close(code: number, reason: string): void;
  terminate(): void;
  /** Stops handing over messages until `resume`; those already read wait. */
  pause(): void;
  resume(): void;
  /** Holds writes until `uncork`, so that the frames of one turn leave in one write. */
  cork(): void;
  uncork(): void;
  /**
   * Sets the cap on one incoming message, checked on each frame's header before its payload is
   * buffered, and returns the cap it replaced (undefined when it cannot set one).
   */
  capMessages(bytes: number): number | undefined;
}

/** ws's parser of incoming frames, whose cap on one message (its `maxPayload` option) is not public API. */
interface MessageCap {
  _maxPayload: number;
}

/**
 * Sets the cap ws puts on one incoming message to `bytes`, and returns the cap it replaced. ws
 * checks it on each frame's header, before buffering the payload.
 */
export function capWsMessages(socket: WebSocket, bytes: number): number | undefined {
  const receiver = (socket as unknown as { _receiver?: Partial<MessageCap> | null })._receiver;
  if (typeof receiver?._maxPayload !== 'number') return undefined;
  const previous = receiver._maxPayload;
  receiver._maxPayload = bytes;
  return previous;
}

/** ws's `generateMask`: leaves the key all zero. */
const zeroMask = (mask: Buffer): void => {
  mask.fill(0);
};

/** ws's options for a dial, on this thread or in the socket thread. */
export function wsClientOptions(options: DialOptions): ClientOptions {
  return {
    perMessageDeflate: false,
    // Unless asked to mask: an all-zero masking key, which ws then skips (no copy and XOR of
    // every frame sent). Masking protects intermediaries from bytes that a browser script
    // chose (RFC 6455, section 10.3); these peers are authenticated nodes, not browsers, and
    // wss makes it moot.
    ...(options.mask ? {} : { generateMask: zeroMask }),
    maxPayload: options.maxPayload,
    skipUTF8Validation: true,
    followRedirects: false,
    handshakeTimeout: options.handshakeTimeout,
    ...options.tls,
  };
}

interface CorkableSocket {
  cork?: () => void;
  uncork?: () => void;
}

/** ws's own socket, on this thread. */
export class WsFrameSocket implements FrameSocket {
  constructor(readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer';
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  get isPaused(): boolean {
    return this.ws.isPaused;
  }

  listen(listeners: FrameSocketListeners): void {
    const ws = this.ws;
    ws.on('message', listeners.message);
    ws.on('open', listeners.open);
    ws.on('ping', listeners.ping);
    ws.on('pong', listeners.pong);
    ws.on('close', (code: number, reason: Buffer) => listeners.close(code, reason.toString('utf8')));
    ws.on('error', listeners.error);
  }

  send(frame: Uint8Array, onWritten?: () => void): void {
    if (onWritten === undefined) this.ws.send(frame);
    else this.ws.send(frame, onWritten);
  }

  ping(): void {
    this.ws.ping();
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  // Through ws's socket, which its typed API does not show; without cork/uncork, frame by frame.
  cork(): void {
    (this.ws as unknown as { _socket?: CorkableSocket })._socket?.cork?.();
  }

  uncork(): void {
    (this.ws as unknown as { _socket?: CorkableSocket })._socket?.uncork?.();
  }

  capMessages(bytes: number): number | undefined {
    return capWsMessages(this.ws, bytes);
  }
}
