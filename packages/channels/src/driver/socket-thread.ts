// A worker thread that reads and writes the WebSockets of the channels marked `thread` (on the
// side that dials them), and the main thread's end of each: a ThreadSocket, the FrameSocket its
// Connection uses. Why (docs/decisions/0002): one event loop serves every socket of a process,
// and bulk's socket reads, ws's joins of frames that span two reads, and the garbage both leave
// (V8 starts a full collection every 64 MB of ArrayBuffers) delay the small messages on every
// other connection. With the socket here, the main thread gets each CHUNK frame as a view of a
// shared ring (it copies the chunk into its message and releases the space), so a bulk transfer
// allocates there only the messages it delivers.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SOCKET_STATE } from './frame-socket';
import type { Assembled, FrameSocket, FrameSocketListeners } from './frame-socket';
import { RELEASED, RELEASED_COST, TO_MAIN, TO_THREAD, WAITING } from './socket-thread-protocol';
import type { DialOptions, SocketThreadData } from './socket-thread-protocol';

/** Shared bytes for frames on their way to the main thread; a power of two. */
export const RING_BYTES = 4 * 1024 * 1024;
/** Longer frames (a chunk size above this, or no chunking) go as copies. */
export const RING_FRAME_MAX = RING_BYTES / 8;
/** Copies and assembled data handed to the main thread and not yet read (SocketThreadData.costBudget). */
export const COST_BUDGET_BYTES = 16 * 1024 * 1024;

/** Messages from this size up are assembled by the thread (SocketThreadData.assembleMin). */
export const ASSEMBLE_MIN_BYTES = 256 * 1024;

export interface SocketThreadOptions {
  /** The frame type that travels through the ring (CHUNK). */
  readonly ringFrameType: number;
  /** Per channel index, the largest message the thread assembles, 0 for none (SocketThreadData). */
  readonly assembleCaps: readonly number[];
  /** Bytes of messages the thread assembles at once (SocketThreadData.assembleBudget). */
  readonly assembleBudget: number;
  /**
   * Told of a thread that failed to start or stopped by itself (its sockets close with 1006).
   * `unavailable`: it failed before its module finished loading (its file missing from a bundle,
   * say), so it is not started again and `usable` is false from then on.
   */
  readonly onFailure: (error: unknown, unavailable: boolean) => void;
  /** The worker's entry, instead of the one beside this file (tests). */
  readonly entry?: { readonly entry: string; readonly typescript: boolean };
}

/** Where the worker's entry lives: beside this file in the sources, under thread/ in the build. */
function workerEntry(): { readonly entry: string; readonly typescript: boolean } {
  // In ESM, import.meta.url; in the CJS build import.meta is empty and __filename is defined.
  const metaUrl: unknown = import.meta.url;
  const here = typeof metaUrl === 'string' ? fileURLToPath(metaUrl) : __filename;
  if (here.endsWith('.ts')) return { entry: join(dirname(here), 'socket-worker.ts'), typescript: true };
  // The build's extension (.js, .cjs; .mjs in a benchmark's bundle, tooling/scripts/run-bench.mjs).
  const extension = /\.[cm]?js$/.exec(here)?.[0] ?? '.js';
  return { entry: join(dirname(here), 'thread', `socket-worker${extension}`), typescript: false };
}

/** An error's message; the thread's errors may come from another realm (not `instanceof Error` here). */
function messageOf(error: unknown): string {
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message : String(error);
}

/** A frame the main thread has not released yet, in the order the thread handed them over. */
interface Held {
  /** Ring bytes. */
  readonly advance: number;
  /** Bytes besides the ring: a copy, or an assembled chunk's data. */
  readonly cost: number;
  done: boolean;
}

type Delivery =
  | { readonly held: Held; readonly offset: number; readonly length: number; readonly assembled: Assembled | undefined }
  | { readonly held: Held; readonly data: Buffer; readonly isBinary: boolean; readonly offset?: undefined };

/** One start of the thread and the shared memory it writes: what a restart replaces whole. */
interface Running {
  readonly worker: Worker;
  readonly ring: SharedArrayBuffer;
  readonly control: Int32Array;
  /** Frames not yet released, oldest first. */
  readonly held: Held[];
  /** Ring bytes and cost released from the front of `held`, modulo 2^32 (RELEASED, RELEASED_COST). */
  released: number;
  releasedCost: number;
  /** The thread said its module loaded (TO_MAIN.ready). */
  ready: boolean;
  /** Its uncaught error, told once it has exited (see start). */
  error?: unknown;
}

export class SocketThread {
  private running: Running | undefined;
  private readonly sockets = new Map<number, ThreadSocket>();
  private nextId = 1;
  /** Why the thread cannot run in this process, once a start failed before it was ready. */
  private unavailable: string | undefined;

  constructor(private readonly options: SocketThreadOptions) {}

  get started(): boolean {
    return this.running !== undefined;
  }

  /**
   * False once a start failed before the thread's module loaded: its dials then go on the main
   * thread (transport.ts), since starting it again would fail the same way, each time taking
   * every lane of the channel down with it.
   */
  get usable(): boolean {
    return this.unavailable === undefined;
  }

  /** Sockets open or opening through the thread. */
  get size(): number {
    return this.sockets.size;
  }

  /** Dials through the thread, starting it if needed; only while `usable`. */
  dial(url: string, dialOptions: DialOptions, upgraded: (certificate: unknown) => void): ThreadSocket {
    if (this.unavailable !== undefined) throw new Error(`the socket thread cannot run here: ${this.unavailable}`);
    const worker = (this.running ?? this.start()).worker;
    const id = this.nextId;
    this.nextId += 1;
    const socket = new ThreadSocket(this, id, dialOptions.maxPayload, upgraded);
    this.sockets.set(id, socket);
    worker.postMessage([TO_THREAD.dial, id, url, dialOptions]);
    return socket;
  }

  /** Ends the thread; its sockets close (1006) first, as at a crash. Resolves once it is gone. */
  async stop(): Promise<void> {
    const running = this.running;
    if (running === undefined) return;
    this.detach('socket thread stopped');
    await running.worker.terminate();
  }

  post(message: unknown[]): void {
    this.running?.worker.postMessage(message);
  }

  /** A view of a frame in the ring: read it before `release`. */
  view(offset: number, length: number): Buffer {
    return Buffer.from(this.running!.ring, offset, length);
  }

  release(held: Held): void {
    held.done = true;
    // A frame of a thread that is gone was in its ring, gone with it.
    const running = this.running;
    if (running === undefined) return;
    let advanced = 0;
    let cost = 0;
    while (running.held.length > 0 && running.held[0]!.done) {
      const front = running.held.shift()!;
      advanced += front.advance;
      cost += front.cost;
    }
    if (advanced === 0 && cost === 0) return;
    running.released = (running.released + advanced) >>> 0;
    running.releasedCost = (running.releasedCost + cost) >>> 0;
    const control = running.control;
    Atomics.store(control, RELEASED, running.released | 0);
    Atomics.store(control, RELEASED_COST, running.releasedCost | 0);
    if (Atomics.compareExchange(control, WAITING, 1, 0) === 1) running.worker.postMessage([TO_THREAD.space]);
  }

  forget(id: number): void {
    this.sockets.delete(id);
  }

  private start(): Running {
    const ring = new SharedArrayBuffer(RING_BYTES);
    const control = new SharedArrayBuffer(12);
    const workerData: SocketThreadData = {
      ring,
      control,
      ringFrameType: this.options.ringFrameType,
      ringFrameMax: RING_FRAME_MAX,
      assembleCaps: this.options.assembleCaps,
      assembleMin: ASSEMBLE_MIN_BYTES,
      assembleBudget: this.options.assembleBudget,
      costBudget: COST_BUDGET_BYTES,
    };
    const { entry, typescript } = this.options.entry ?? workerEntry();
    // Node 20 cannot start a worker from a .ts file even with a loader flag; tsx first (tests, tsx runs).
    const worker = typescript
      ? new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(entry).href)}); });`, { eval: true, workerData })
      : new Worker(entry, { workerData });
    // The sockets it runs keep the process alive as long as the transport does; the thread alone does not.
    worker.unref();
    const running: Running = { worker, ring, control: new Int32Array(control), held: [], released: 0, releasedCost: 0, ready: false };
    this.running = running;
    // A thread stopped or gone may still have messages queued: they concern no socket of now.
    worker.on('message', (message: unknown[]) => {
      if (this.running === running) this.receive(running, message);
    });
    // An error comes on a port of its own, and can arrive before messages the thread sent ahead
    // of it (its `ready`, which tells a crash from a thread that cannot run); an exit follows it,
    // and comes after every message. So the failure is judged at the exit, with the error.
    worker.on('error', (error) => {
      running.error ??= error;
    });
    worker.on('exit', (code) => {
      const { error } = running;
      if (error === undefined) this.failed(running, new Error(`socket thread exited with code ${code}`), `socket thread exited with code ${code}`);
      else this.failed(running, error, `socket thread failed: ${messageOf(error)}`);
    });
    return running;
  }

  /** A thread that failed or exited by itself, told at its exit. */
  private failed(running: Running, error: unknown, reason: string): void {
    if (this.running !== running) return;
    const unavailable = !running.ready;
    if (unavailable) this.unavailable = messageOf(error);
    this.detach(reason);
    this.options.onFailure(error, unavailable);
  }

  /** The thread is gone: each of its sockets closes, as a connection that broke. */
  private detach(reason: string): void {
    this.running = undefined;
    const sockets = [...this.sockets.values()];
    this.sockets.clear();
    for (const socket of sockets) socket.closed(1006, reason);
  }

  /** Records a frame handed over, in order; one for a socket gone already is released at once. */
  private hold(running: Running, socket: ThreadSocket | undefined, advance: number, cost: number): Held {
    const held: Held = { advance, cost, done: false };
    running.held.push(held);
    if (socket === undefined) this.release(held);
    return held;
  }

  private receive(running: Running, message: unknown[]): void {
    if (message[0] === TO_MAIN.ready) {
      running.ready = true;
      return;
    }
    const socket = this.sockets.get(message[1] as number);
    switch (message[0]) {
      case TO_MAIN.frame: {
        const held = this.hold(running, socket, message[4] as number, message[5] as number);
        socket?.arrived({ held, offset: message[2] as number, length: message[3] as number, assembled: assembledOf(message) });
        return;
      }
      case TO_MAIN.copy: {
        const held = this.hold(running, socket, 0, message[4] as number);
        const data = message[2] as Uint8Array;
        socket?.arrived({ held, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), isBinary: message[3] as boolean });
        return;
      }
      case TO_MAIN.open:
        socket?.opened(message[2]);
        return;
      case TO_MAIN.ping:
        socket?.listeners?.ping();
        return;
      case TO_MAIN.pong:
        socket?.listeners?.pong();
        return;
      case TO_MAIN.error: {
        const error = new Error(message[3] as string) as Error & { code?: string };
        if (message[2] !== null) error.code = message[2] as string;
        socket?.listeners?.error(error);
        return;
      }
      case TO_MAIN.close:
        socket?.closed(message[2] as number, message[3] as string);
        return;
      default:
    }
  }
}

/**
 * A certificate as getPeerCertificate gave it on the thread: the structured clone made its
 * Buffers plain Uint8Arrays (raw, pubkey, and in the issuer chain); Buffers again, as on this thread.
 */
function withBuffers(certificate: unknown, seen = new Set<unknown>()): unknown {
  if (certificate === null || typeof certificate !== 'object' || seen.has(certificate)) return certificate;
  seen.add(certificate);
  const fields = certificate as Record<string, unknown>;
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Uint8Array && !Buffer.isBuffer(value)) fields[key] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    else if (key === 'issuerCertificate') withBuffers(value, seen);
  }
  return certificate;
}

/** The assembly details of a `frame` message (socket-thread-protocol.ts), when it has them. */
function assembledOf(message: unknown[]): Assembled | undefined {
  if (message.length < 8) return undefined;
  const body = message[8] as ArrayBuffer | undefined;
  return { frameLength: message[6] as number, dataLength: message[7] as number, body: body === undefined ? undefined : Buffer.from(body) };
}

/** The main thread's end of a WebSocket that the socket thread runs. */
export class ThreadSocket implements FrameSocket {
  readyState: number = SOCKET_STATE.connecting;
  listeners: FrameSocketListeners | undefined;
  private paused = false;
  /** Frames that arrived while paused, delivered on resume. */
  private readonly waiting: Delivery[] = [];
  private corked = false;
  private readonly outbox: Uint8Array[] = [];
  private readonly written: (() => void)[] = [];
  private outboxBytes = 0;
  /** A close that came while frames wait for `resume`. */
  private closeAfterWaiting: { code: number; reason: string } | undefined;

  constructor(
    private readonly thread: SocketThread,
    readonly id: number,
    private cap: number,
    private readonly upgraded: (certificate: unknown) => void,
  ) {}

  get bufferedAmount(): number {
    return this.outboxBytes;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  listen(listeners: FrameSocketListeners): void {
    this.listeners = listeners;
  }

  send(frame: Uint8Array, onWritten?: () => void): void {
    if (this.readyState !== SOCKET_STATE.open) {
      // Not sent, but the frame may be reused all the same (ws calls back with an error).
      if (onWritten !== undefined) queueMicrotask(onWritten);
      return;
    }
    this.outbox.push(frame);
    this.outboxBytes += frame.length;
    if (onWritten !== undefined) this.written.push(onWritten);
    if (!this.corked) this.flush();
  }

  ping(): void {
    if (this.readyState === SOCKET_STATE.open) this.thread.post([TO_THREAD.ping, this.id]);
  }

  close(code: number, reason: string): void {
    if (this.readyState >= SOCKET_STATE.closing) return;
    this.flush();
    this.readyState = SOCKET_STATE.closing;
    this.thread.post([TO_THREAD.close, this.id, code, reason]);
  }

  terminate(): void {
    if (this.readyState === SOCKET_STATE.closed) return;
    this.readyState = SOCKET_STATE.closing;
    this.thread.post([TO_THREAD.terminate, this.id]);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    while (!this.paused && this.waiting.length > 0 && this.readyState !== SOCKET_STATE.closed) this.deliver(this.waiting.shift()!);
    const close = this.closeAfterWaiting;
    if (close !== undefined && this.waiting.length === 0) {
      this.closeAfterWaiting = undefined;
      this.closed(close.code, close.reason);
    }
  }

  cork(): void {
    this.corked = true;
  }

  uncork(): void {
    this.corked = false;
    this.flush();
  }

  capMessages(bytes: number): number | undefined {
    const previous = this.cap;
    this.cap = bytes;
    this.thread.post([TO_THREAD.cap, this.id, bytes]);
    return previous;
  }

  /** Called by the thread. */
  arrived(delivery: Delivery): void {
    if (this.paused || this.waiting.length > 0) this.waiting.push(delivery);
    else this.deliver(delivery);
  }

  opened(certificate: unknown): void {
    if (this.readyState !== SOCKET_STATE.connecting) return;
    this.readyState = SOCKET_STATE.open;
    if (certificate !== null) this.upgraded(withBuffers(certificate));
    this.listeners?.open();
  }

  closed(code: number, reason: string): void {
    if (this.readyState === SOCKET_STATE.closed) return;
    // Frames that came before the close are read first, as ws does, once reads resume; not
    // when the thread is gone (its ring with it).
    if (this.waiting.length > 0 && this.paused && this.thread.started) {
      this.closeAfterWaiting = { code, reason };
      return;
    }
    this.readyState = SOCKET_STATE.closed;
    this.thread.forget(this.id);
    for (const delivery of this.waiting) this.thread.release(delivery.held);
    this.waiting.length = 0;
    this.outbox.length = 0;
    this.outboxBytes = 0;
    this.settleWritten();
    this.listeners?.close(code, reason);
  }

  private deliver(delivery: Delivery): void {
    try {
      if (delivery.offset === undefined) this.listeners?.message(delivery.data, delivery.isBinary);
      else this.listeners?.message(this.thread.view(delivery.offset, delivery.length), true, delivery.assembled);
    } finally {
      // The frame was read (a CHUNK is copied into its message at once); its space goes back.
      this.thread.release(delivery.held);
    }
  }

  private flush(): void {
    if (this.outbox.length === 0) return;
    // Posting copies the frames: they may be reused once it returns.
    this.thread.post([TO_THREAD.send, this.id, this.outbox.splice(0)]);
    this.outboxBytes = 0;
    this.settleWritten();
  }

  private settleWritten(): void {
    if (this.written.length === 0) return;
    const callbacks = this.written.splice(0);
    queueMicrotask(() => {
      for (const callback of callbacks) callback();
    });
  }
}
