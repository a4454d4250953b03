// The socket thread: runs WebSockets that the main thread dialed through it (socket-thread.ts),
// so that socket reads, ws's framing and the buffers both allocate stay off the main thread's
// loop and heap. It knows nothing of the protocol: frames go to the main thread as they came,
// CHUNK frames through the shared ring, the rest as copies, in order per socket.
import { parentPort, workerData } from 'node:worker_threads';
import { WebSocket } from 'ws';
import { readChunkHeader } from '../core/frames';
import { WsFrameSocket, capWsMessages, wsClientOptions } from './frame-socket';
import { RELEASED, RELEASED_COST, TO_MAIN, TO_THREAD, WAITING } from './socket-thread-protocol';
import type { DialOptions, SocketThreadData } from './socket-thread-protocol';

/** A frame waiting for the main thread to release ring space or cost; or the socket's close, behind its frames. */
type Pending =
  | { readonly id: number; readonly data: Buffer; readonly isBinary: boolean; readonly assembled: AssembledChunk | undefined; readonly close?: undefined }
  | { readonly id: number; readonly close: { readonly code: number; readonly reason: string } };

/** A message this thread assembles: the chunks' data go into `body`. */
interface Assembly {
  readonly channel: number;
  readonly lane: number;
  readonly body: Buffer;
  filled: number;
}

interface SocketState {
  readonly ws: WebSocket;
  /** The same socket, for writes in one batch (cork, uncork). */
  readonly writer: WsFrameSocket;
  readonly handshakeCap: number;
  /** The handshake finished (the main thread lifted the cap): messages may be assembled. */
  open: boolean;
  /** Something did not add up (or an allocation failed): this socket's chunks go over as they came. */
  noAssembly: boolean;
  /** The main thread closed the socket: what still comes is not handed over. */
  closing: boolean;
  assembly: Assembly | undefined;
}

const port = parentPort!;
const setup = workerData as SocketThreadData;
const ring = new Uint8Array(setup.ring);
const control = new Int32Array(setup.control);
const ringBytes = ring.length;
const sockets = new Map<number, SocketState>();
/** Frames that found no room in the ring, in arrival order; their sockets are paused. */
const backlog: Pending[] = [];
/** Bytes written to the ring since the start, modulo 2^32. */
let head = 0;
/** Cost handed over since the start, modulo 2^32 (RELEASED_COST). */
let costSent = 0;
/** Bytes of the messages being assembled, all sockets. */
let assembling = 0;

/** Writes one frame to the ring; false when it does not fit until the main thread releases more. */
function toRing(id: number, data: Buffer, cost: number, assembled?: AssembledChunk): boolean {
  const used = (head - Atomics.load(control, RELEASED)) >>> 0;
  const offset = head & (ringBytes - 1);
  // A frame never wraps: one that does not fit before the end starts again at 0.
  const padding = offset + data.length > ringBytes ? ringBytes - offset : 0;
  const advance = padding + data.length;
  if (ringBytes - used < advance) return false;
  const start = padding === 0 ? offset : 0;
  ring.set(data, start);
  head = (head + advance) >>> 0;
  if (assembled === undefined) port.postMessage([TO_MAIN.frame, id, start, data.length, advance, cost]);
  else if (assembled.body === undefined) port.postMessage([TO_MAIN.frame, id, start, data.length, advance, cost, assembled.frameLength, assembled.dataLength]);
  else port.postMessage([TO_MAIN.frame, id, start, data.length, advance, cost, assembled.frameLength, assembled.dataLength, assembled.body], [assembled.body]);
  return true;
}

interface AssembledChunk {
  readonly frameLength: number;
  readonly dataLength: number;
  readonly body: ArrayBuffer | undefined;
}

/**
 * A CHUNK of a message this thread assembles: copies its data into the message and returns the
 * header to hand over in its place; undefined for a frame to hand over as it came. Anything
 * inconsistent (a malformed header, a message too large, chunks past the declared size) ends
 * the assembly and goes over as it came, for the main thread to refuse.
 */
function assemble(state: SocketState, data: Buffer): { header: Buffer; assembled: AssembledChunk } | undefined {
  if (!state.open || state.noAssembly) return undefined;
  let header;
  try {
    header = readChunkHeader(data);
  } catch {
    endAssembly(state, true);
    return undefined;
  }
  const dataLength = data.length - header.dataOffset;
  if (header.first) {
    // A first chunk while one is in progress: the main thread refuses it.
    if (state.assembly !== undefined) {
      endAssembly(state, true);
      return undefined;
    }
    if (header.last || header.total < setup.assembleMin || header.total > (setup.assembleCaps[header.channel] ?? 0)) return undefined;
    // Past the budget, the main thread assembles it (and refuses it past its own).
    if (assembling + header.total > setup.assembleBudget) return undefined;
    let body: Buffer;
    try {
      body = Buffer.allocUnsafe(header.total);
    } catch {
      state.noAssembly = true;
      return undefined;
    }
    assembling += header.total;
    state.assembly = { channel: header.channel, lane: header.lane, body, filled: 0 };
  }
  const assembly = state.assembly;
  if (assembly === undefined) return undefined;
  if (assembly.channel !== header.channel || assembly.lane !== header.lane || assembly.filled + dataLength > assembly.body.length) {
    endAssembly(state, true);
    return undefined;
  }
  assembly.body.set(data.subarray(header.dataOffset), assembly.filled);
  assembly.filled += dataLength;
  let body: ArrayBuffer | undefined;
  if (header.last) {
    endAssembly(state, false);
    // allocUnsafe of this size has an ArrayBuffer of its own (above the pool's), whole.
    if (assembly.filled === assembly.body.length && assembly.body.byteOffset === 0 && assembly.body.buffer.byteLength === assembly.body.length) body = assembly.body.buffer as ArrayBuffer;
  }
  return { header: data.subarray(0, header.dataOffset), assembled: { frameLength: data.length, dataLength, body } };
}

function endAssembly(state: SocketState, inconsistent: boolean): void {
  if (state.assembly !== undefined) assembling -= state.assembly.body.length;
  state.assembly = undefined;
  if (inconsistent) state.noAssembly = true;
}

/** Hands one frame over now, if the ring has room and the cost budget allows. */
function tryForward(id: number, data: Buffer, isBinary: boolean, assembled: AssembledChunk | undefined): boolean {
  const copy = assembled === undefined && (!isBinary || data.length === 0 || data[0] !== setup.ringFrameType || data.length > setup.ringFrameMax);
  const cost = copy ? data.length : (assembled?.dataLength ?? 0);
  const inFlight = (costSent - Atomics.load(control, RELEASED_COST)) >>> 0;
  // One frame larger than the budget goes once nothing else is in flight.
  if (cost > 0 && inFlight > 0 && inFlight + cost > setup.costBudget) return false;
  if (copy) {
    // The copy is transferred: the main thread takes it over without copying again.
    const bytes = new Uint8Array(data.length);
    bytes.set(data);
    port.postMessage([TO_MAIN.copy, id, bytes, isBinary, cost], [bytes.buffer]);
  } else if (!toRing(id, data, cost, assembled)) {
    return false;
  }
  costSent = (costSent + cost) >>> 0;
  return true;
}

/** Hands one frame over; false when it must wait for the main thread to release ring space or cost. */
function forward(id: number, data: Buffer, isBinary: boolean, assembled?: AssembledChunk): boolean {
  if (tryForward(id, data, isBinary, assembled)) return true;
  // Ask to be told of released space; look again in case it came meanwhile.
  Atomics.store(control, WAITING, 1);
  if (tryForward(id, data, isBinary, assembled)) {
    Atomics.store(control, WAITING, 0);
    return true;
  }
  return false;
}

function drainBacklog(): void {
  while (backlog.length > 0) {
    const next = backlog[0]!;
    if (next.close !== undefined) port.postMessage([TO_MAIN.close, next.id, next.close.code, next.close.reason]);
    else if (!forward(next.id, next.data, next.isBinary, next.assembled)) return;
    backlog.shift();
    if (!backlog.some((pending) => pending.id === next.id)) sockets.get(next.id)?.ws.resume();
  }
}

function onMessage(id: number, state: SocketState, data: Buffer, isBinary: boolean): void {
  // Closed by the main thread, which reads nothing more from it.
  if (state.closing) return;
  // Assembled in the order chunks come, so before any wait for the ring.
  const assembling = isBinary && data.length > 0 && data[0] === setup.ringFrameType ? assemble(state, data) : undefined;
  const frame = assembling?.header ?? data;
  const assembled = assembling?.assembled;
  // Behind frames that wait, in order: this socket's own, or any (the ring is one queue).
  if (backlog.length === 0 && forward(id, frame, isBinary, assembled)) return;
  backlog.push({ id, data: frame, isBinary, assembled });
  state.ws.pause();
}

function dial(id: number, url: string, options: DialOptions): void {
  const socket = new WebSocket(url, wsClientOptions(options));
  const state: SocketState = { ws: socket, writer: new WsFrameSocket(socket), handshakeCap: options.handshakeCap, open: false, noAssembly: false, closing: false, assembly: undefined };
  sockets.set(id, state);
  let certificate: unknown = null;
  if (options.tls !== undefined) {
    socket.once('upgrade', (response) => {
      const tlsSocket = response.socket as unknown as { getPeerCertificate?: () => unknown };
      certificate = tlsSocket.getPeerCertificate?.() ?? null;
    });
  }
  socket.on('open', () => {
    // Before anything is read: the main thread lifts the cap once the handshake is done.
    capWsMessages(socket, options.handshakeCap);
    port.postMessage([TO_MAIN.open, id, certificate]);
  });
  socket.on('message', (data: Buffer, isBinary: boolean) => onMessage(id, state, data, isBinary));
  socket.on('ping', () => port.postMessage([TO_MAIN.ping, id]));
  socket.on('pong', () => port.postMessage([TO_MAIN.pong, id]));
  socket.on('error', (error: Error & { code?: string }) => port.postMessage([TO_MAIN.error, id, error.code ?? null, error.message]));
  socket.on('close', (code: number, reason: Buffer) => {
    sockets.delete(id);
    endAssembly(state, false);
    // Behind the frames that came before it, as ws would have read them.
    if (backlog.some((pending) => pending.id === id)) backlog.push({ id, close: { code, reason: reason.toString('utf8') } });
    else port.postMessage([TO_MAIN.close, id, code, reason.toString('utf8')]);
  });
}

function send(state: SocketState, frames: readonly Uint8Array[]): void {
  if (state.ws.readyState !== WebSocket.OPEN) return;
  const { writer } = state;
  writer.cork();
  for (const frame of frames) writer.send(frame);
  writer.uncork();
}

port.on('message', (message: unknown[]) => {
  const op = message[0] as number;
  if (op === TO_THREAD.space) {
    drainBacklog();
    return;
  }
  const id = message[1] as number;
  if (op === TO_THREAD.dial) {
    dial(id, message[2] as string, message[3] as DialOptions);
    return;
  }
  const state = sockets.get(id);
  if (state === undefined) return;
  const socket = state.ws;
  switch (op) {
    case TO_THREAD.send:
      send(state, message[2] as Uint8Array[]);
      return;
    case TO_THREAD.ping:
      if (socket.readyState === WebSocket.OPEN) socket.ping();
      return;
    case TO_THREAD.close:
      state.closing = true;
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else if (socket.readyState === WebSocket.OPEN) socket.close(message[2] as number, message[3] as string);
      return;
    case TO_THREAD.terminate:
      state.closing = true;
      socket.terminate();
      return;
    case TO_THREAD.cap:
      capWsMessages(socket, message[2] as number);
      // The main thread lifts the handshake's cap once the handshake finished.
      state.open = (message[2] as number) > state.handshakeCap;
      return;
    default:
  }
});

// Everything above loaded: from here on a failure is a crash, not a thread that cannot start.
port.postMessage([TO_MAIN.ready]);
