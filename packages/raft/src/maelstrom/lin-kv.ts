#!/usr/bin/env node
// A Maelstrom `lin-kv` node (https://github.com/jepsen-io/maelstrom, workload lin-kv): newline-
// delimited JSON messages on stdin and stdout. Run it under Maelstrom with
//   maelstrom test -w lin-kv --bin node_modules/.bin/foundation-raft-lin-kv --node-count 3 --time-limit 30 --nemesis partition
// Raft messages between nodes travel as Maelstrom messages of type `raft` (CBOR in base64).
// Client requests that reach a follower are forwarded to the leader and answered by the node
// the client asked.
import { FoundationError } from '@foundation/core';
import { Encoder } from 'cbor-x';
import { createRaftNode } from '../driver/raft-node';
import type { RaftNode } from '../driver/raft-node';
import { RAFT_ERROR_CODES } from '../errors/codes';
import { createKvStateMachine } from '../kv/kv-state-machine';
import type { KvCommand, KvQuery, KvQueryResult, KvResult } from '../kv/kv-state-machine';
import { createMemoryPersistence } from '../storage/persistence';
import { readLines } from './lines';

interface Body {
  readonly type: string;
  readonly msg_id?: number;
  readonly in_reply_to?: number;
  readonly [field: string]: unknown;
}

interface Envelope {
  readonly src: string;
  readonly dest: string;
  readonly body: Body;
}

/** Maelstrom's error codes. */
const ERRORS = { timeout: 0, notSupported: 10, temporarilyUnavailable: 11, malformed: 12, crash: 13, keyDoesNotExist: 20, preconditionFailed: 22 } as const;

const codec = new Encoder({ useRecords: false, structuredClone: false });
/**
 * The longest line read: above every message a node sends (an append carries one entry past
 * its 1 MiB budget, of up to 64 MiB, 86 MiB as base64) and far below V8's longest string.
 */
const MAX_LINE_BYTES = 128 * 1024 * 1024;
let self = '';
let nextId = 1;
let node: RaftNode<KvCommand, KvResult, KvQuery, KvQueryResult> | null = null;
/** Set once `node.start()` resolved: before that the node has no status to route by. */
let started = false;
let raftHandler: ((message: { from: string; payload: unknown }) => void) | null = null;
/**
 * How long a request forwarded to the leader waits for its answer: twice the leader's own
 * request timeout (`requestTimeoutMs` below), within which it answers unless it crashed or was
 * cut off. Then the client hears an indefinite timeout (the write may still apply), and the
 * entry goes: one kept for each request a lost leader never answered grew without end.
 */
const FORWARD_TIMEOUT_MS = 2000;
/** Requests forwarded to the leader, by the msg_id of the forward: in the order sent, so in deadline order. */
const forwarded = new Map<number, { client: string; msgId: number | undefined; deadline: number }>();
let forwardSweep: NodeJS.Timeout | null = null;

/** Answers the forwarded requests past their deadline; runs while any are waiting. */
function sweepForwarded(): void {
  const now = Date.now();
  for (const [id, origin] of forwarded) {
    if (origin.deadline > now) break;
    forwarded.delete(id);
    emit(origin.client, { type: 'error', code: ERRORS.timeout, text: 'the leader did not answer the forwarded request', in_reply_to: origin.msgId });
  }
  if (forwarded.size === 0 && forwardSweep !== null) {
    clearInterval(forwardSweep);
    forwardSweep = null;
  }
}

function emit(dest: string, body: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ src: self, dest, body: { msg_id: nextId++, ...body } })}\n`);
}

function reply(request: Envelope, body: Record<string, unknown>): void {
  emit(request.src, Object.assign({}, body, { in_reply_to: request.body.msg_id }));
}

/** Whether `body` asks for an answer: it has an id and is no answer itself (answering answers can loop between nodes). */
function expectsReply(body: Body): boolean {
  return body.msg_id !== undefined && body.in_reply_to === undefined && body.type !== 'error';
}

function errorBody(error: unknown): Record<string, unknown> {
  if (FoundationError.is(error)) {
    // Refused for what the request holds (a key the state machine refuses, a value too large to
    // log): it did nothing and never will, which is Maelstrom's malformed-request, where
    // temporarily-unavailable invited a retry and a timeout left the outcome unknown.
    if (error.type === 'invalid_input' || (error.code === RAFT_ERROR_CODES.dropped && (error.context as { refused?: unknown }).refused === true)) return { type: 'error', code: ERRORS.malformed, text: error.message };
    if (error.code === RAFT_ERROR_CODES.notLeader || error.code === RAFT_ERROR_CODES.dropped) return { type: 'error', code: ERRORS.temporarilyUnavailable, text: error.message };
    return { type: 'error', code: ERRORS.timeout, text: error.message };
  }
  return { type: 'error', code: ERRORS.timeout, text: String(error) };
}

/** Why a client request cannot be executed as it is (Maelstrom's malformed-request), or null. */
function malformed(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return 'the request is not an object';
  const fields: Record<string, readonly string[]> = { read: ['key'], write: ['key', 'value'], cas: ['key', 'from', 'to'] };
  const type = (body as { type?: unknown }).type;
  // Own properties only: `constructor`, `toString` and the like are found on every object.
  const required = typeof type === 'string' && Object.hasOwn(fields, type) ? fields[type] : undefined;
  if (required === undefined) return null; // answered as an unknown request
  const missing = required.filter((field) => !(field in body));
  return missing.length === 0 ? null : `${String(type)} needs ${missing.join(', ')}`;
}

/**
 * A value as this node stores it in the key-value machine: boxed, so that a written null is a
 * value. The machine holds a missing key and a stored null alike (a get of either gives null, and
 * a cas expecting null matches both), while Maelstrom's lin-kv reads a stored null as null and
 * answers a cas on a missing key with error 20. Boxed, a missing key is the machine's null and
 * nothing else: a cas's expected box never matches it, so a cas creates no key. Every node of a
 * Maelstrom test runs this binary, with a log in memory, so no node holds values unboxed.
 */
interface Boxed {
  readonly value: unknown;
}

function box(value: unknown): Boxed {
  return { value };
}

/** A value as the machine gave it: a box, or null for a missing key. */
function unbox(stored: unknown): Boxed | null {
  return typeof stored === 'object' && stored !== null && 'value' in stored ? stored : null;
}

/** Executes a client operation on this node (which should be the leader). Never rejects. */
async function execute(body: Body): Promise<Record<string, unknown>> {
  const problem = malformed(body);
  if (problem !== null) return { type: 'error', code: ERRORS.malformed, text: problem };
  const raft = node;
  if (raft === null || !started) return { type: 'error', code: ERRORS.temporarilyUnavailable, text: 'not initialised' };
  const key = String(body.key);
  try {
    switch (body.type) {
      case 'read': {
        const stored = unbox(await raft.read({ op: 'get', key }));
        return stored === null ? { type: 'error', code: ERRORS.keyDoesNotExist, text: `no key ${key}` } : { type: 'read_ok', value: stored.value };
      }
      case 'write':
        await raft.propose({ op: 'put', key, value: box(body.value) });
        return { type: 'write_ok' };
      case 'cas': {
        const result = await raft.propose({ op: 'cas', key, expected: box(body.from), value: box(body.to) });
        if (result.op === 'cas' && result.ok) return { type: 'cas_ok' };
        if (result.op === 'cas' && unbox(result.current) === null) return { type: 'error', code: ERRORS.keyDoesNotExist, text: `no key ${key}` };
        return { type: 'error', code: ERRORS.preconditionFailed, text: `expected ${JSON.stringify(body.from)}` };
      }
      default:
        return { type: 'error', code: ERRORS.notSupported, text: `unknown request ${String(body.type)}` };
    }
  } catch (error) {
    return errorBody(error);
  }
}

function handleClient(request: Envelope): void {
  const raft = node;
  const problem = malformed(request.body);
  if (problem !== null) {
    reply(request, { type: 'error', code: ERRORS.malformed, text: problem });
    return;
  }
  if (raft === null || !started) {
    reply(request, { type: 'error', code: ERRORS.temporarilyUnavailable, text: 'not initialised' });
    return;
  }
  const status = raft.status();
  if (status.role === 'leader') {
    void execute(request.body).then((body) => reply(request, body));
    return;
  }
  if (status.leader === null) {
    reply(request, { type: 'error', code: ERRORS.temporarilyUnavailable, text: 'no leader known' });
    return;
  }
  const id = nextId;
  forwarded.set(id, { client: request.src, msgId: request.body.msg_id, deadline: Date.now() + FORWARD_TIMEOUT_MS });
  forwardSweep ??= setInterval(sweepForwarded, 100);
  emit(status.leader, { type: 'forward', request: request.body });
}

function handle(envelope: Envelope): void {
  const { body } = envelope;
  switch (body.type) {
    case 'init': {
      if (node !== null) {
        reply(envelope, { type: 'error', code: ERRORS.malformed, text: `already initialised as ${self}` });
        return;
      }
      const ids = body.node_ids;
      if (typeof body.node_id !== 'string' || !Array.isArray(ids) || !ids.every((id) => typeof id === 'string') || !ids.includes(body.node_id)) {
        reply(envelope, { type: 'error', code: ERRORS.malformed, text: 'init needs node_id and node_ids, a list of strings that holds it' });
        return;
      }
      self = body.node_id;
      node = createRaftNode({
        id: self,
        peers: ids,
        persistence: createMemoryPersistence(),
        transport: {
          send: (peer, _channel, payload) => {
            emit(peer, { type: 'raft', data: Buffer.from(codec.encode(payload) as Uint8Array).toString('base64') });
            return true;
          },
          onMessage: (_channel, handler) => {
            raftHandler = handler;
            return () => {
              raftHandler = null;
            };
          },
        },
        stateMachine: createKvStateMachine(),
        tickMs: 50,
        requestTimeoutMs: 1000,
      });
      node.start().then(
        () => {
          started = true;
          reply(envelope, { type: 'init_ok' });
        },
        (error: unknown) => reply(envelope, { type: 'error', code: ERRORS.crash, text: `start failed: ${String(error)}` }),
      );
      return;
    }
    case 'raft': {
      let payload: unknown;
      try {
        payload = codec.decode(Buffer.from(String(body.data), 'base64'));
      } catch {
        return;
      }
      raftHandler?.({ from: envelope.src, payload });
      return;
    }
    case 'forward': {
      const request = body.request;
      if (typeof request !== 'object' || request === null || typeof (request as Body).type !== 'string') {
        reply(envelope, { type: 'error', code: ERRORS.malformed, text: 'forward needs a request' });
        return;
      }
      void execute(request as Body).then((result) => emit(envelope.src, { type: 'forward_ok', in_reply_to: body.msg_id, result }));
      return;
    }
    case 'forward_ok': {
      const origin = forwarded.get(body.in_reply_to ?? -1);
      if (origin === undefined) return;
      forwarded.delete(body.in_reply_to!);
      const result = body.result;
      const answer = typeof result === 'object' && result !== null && typeof (result as Body).type === 'string' ? (result as Record<string, unknown>) : { type: 'error', code: ERRORS.crash, text: 'the leader sent no result' };
      emit(origin.client, { ...answer, in_reply_to: origin.msgId });
      return;
    }
    case 'read':
    case 'write':
    case 'cas':
      handleClient(envelope);
      return;
    default:
      if (expectsReply(body)) reply(envelope, { type: 'error', code: ERRORS.notSupported, text: `unsupported: ${String(body.type)}` });
  }
}

function handleLine(line: string): void {
  let envelope: Envelope;
  try {
    envelope = JSON.parse(line) as Envelope;
  } catch {
    process.stderr.write(`unparseable line: ${line.slice(0, 200)}\n`);
    return;
  }
  if (typeof envelope !== 'object' || envelope === null || typeof envelope.src !== 'string' || typeof envelope.body !== 'object' || envelope.body === null) {
    process.stderr.write(`not a Maelstrom message: ${line.slice(0, 200)}\n`);
    return;
  }
  try {
    handle(envelope);
  } catch (error) {
    // A message this node failed on is answered (when it can be), never the end of the process.
    process.stderr.write(`failed on ${line.slice(0, 200)}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    if (expectsReply(envelope.body)) reply(envelope, { type: 'error', code: ERRORS.crash, text: String(error) });
  }
}

readLines(process.stdin, MAX_LINE_BYTES, {
  line: handleLine,
  oversized: (bytes) => process.stderr.write(`dropped a line of ${bytes} bytes, above the limit of ${MAX_LINE_BYTES}\n`),
  end: () => void node?.stop().then(() => process.exit(0)),
});
