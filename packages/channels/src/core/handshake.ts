// The handshake every connection performs before any application frame:
//
//   dialer   → HELLO      magic, version, cluster, node id, incarnation, epoch, session, connection
//                          index and count, channel-set digest, expected peer, nonce (32 bytes)
//   acceptor → CHALLENGE  its node id, incarnation, epoch, nonce, and proof_a
//   dialer   → AUTH       proof_d
//   acceptor → READY
//
// proof_a = HMAC-SHA256(secret, "foundation-channels/1 acceptor" 0x00 HELLO-body CHALLENGE-fields)
// proof_d = HMAC-SHA256(secret, "foundation-channels/1 dialer"   0x00 HELLO-body CHALLENGE-fields)
//
// Both nonces are fresh, so a recorded proof is useless later, and the two labels keep one
// side's proof from being replayed as the other's. The secret never crosses the wire. Each
// side checks the other's proof with a constant-time comparison before anything else happens.
//
// The epoch is the sender's session epoch for the node at the other end: a random value the
// sender adopts at its first session with that node, and a fresh one each time it drops what it
// kept for that node's session (its peer-down). A sender that holds none for the node (it never
// met it, or forgot it past limits.rememberedPeers) sends a fresh value, never one the node could
// have seen before. A peer that sees another epoch than last time from the same incarnation knows
// the session it kept did not go on, as when the incarnation changes. A dialer that does not
// know yet whom it reaches (a URL it never connected to) sends a fresh value, and dials again if
// it reaches a node it holds another epoch for; versions before session epochs always send 0 and
// ignore the value. Both proofs cover both epochs.
//
// Each side sends its epoch before the other has proved anything (HELLO before the acceptor's
// proof, CHALLENGE before the dialer's), and the epoch says whether and when this node dropped
// what it kept for the node at the other end. So it travels masked: plus a 48-bit mask, modulo
// 2^48, that only holders of the secret can compute and that is fresh on every connection
//
//   mask in HELLO     = first 6 bytes of HMAC-SHA256(secret, "foundation-channels/1 hello epoch" 0x00 dialer-nonce)
//   mask in CHALLENGE = first 6 bytes of HMAC-SHA256(secret, "foundation-channels/1 challenge epoch" 0x00 HELLO-body acceptor-nonce)
//
// so that without the secret the field reads as a random number, whatever the epoch. A 0 on the
// wire is read as epoch 0 (what versions before session epochs send); a masked epoch is 0 only
// by chance (2^-48), and is then read as a change of epoch: a session taken for a new one.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CborCodec } from './cbor';
import { CLOSE_CODES } from './close-codes';
import { FRAME_TYPES } from './frames';

export const PROTOCOL_MAGIC = 'foundation-channels';
export const PROTOCOL_VERSION = 1;
export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;
/** Handshake frames are small; anything larger before READY is refused. */
export const MAX_HANDSHAKE_FRAME_BYTES = 4096;

const ACCEPTOR_LABEL = Buffer.from('foundation-channels/1 acceptor\0', 'latin1');
const DIALER_LABEL = Buffer.from('foundation-channels/1 dialer\0', 'latin1');
const HELLO_EPOCH_LABEL = Buffer.from('foundation-channels/1 hello epoch\0', 'latin1');
const CHALLENGE_EPOCH_LABEL = Buffer.from('foundation-channels/1 challenge epoch\0', 'latin1');
/** Epochs are 48-bit numbers (randomBytes(6)); masks are taken modulo this. */
const EPOCH_RANGE = 2 ** 48;
const ID_PATTERN = /^[\x21-\x7e]{1,200}$/;

export interface Hello {
  readonly cluster: string;
  readonly nodeId: string;
  readonly incarnation: string;
  readonly epoch: number;
  readonly session: string;
  readonly connection: number;
  readonly connections: number;
  readonly channelDigest: string;
  readonly expectedPeer: string | undefined;
  readonly nonce: Uint8Array;
}

export interface ChallengeFields {
  readonly nodeId: string;
  readonly incarnation: string;
  readonly epoch: number;
  readonly nonce: Uint8Array;
}

/** A handshake frame broke the rules; the connection closes with `closeCode`. */
export class HandshakeError extends Error {
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
  }
}

function malformed(reason: string): never {
  throw new HandshakeError(CLOSE_CODES.malformedFrame, reason);
}

function checkId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) malformed(`${field} must be 1–200 printable ASCII characters`);
  return value;
}

function checkCount(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) malformed(`${field} must be an integer in 0..${max}`);
  return value;
}

function checkNonce(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== NONCE_BYTES) malformed(`nonce must be ${NONCE_BYTES} bytes`);
  return value;
}

/** The mask an epoch travels under: the first 6 bytes of an HMAC over `label` and `parts`. */
function epochMask(secret: Uint8Array, label: Uint8Array, ...parts: Uint8Array[]): number {
  const hmac = createHmac('sha256', secret);
  hmac.update(label);
  for (const part of parts) hmac.update(part);
  return hmac.digest().readUIntBE(0, 6);
}

function maskEpoch(epoch: number, mask: number): number {
  return (epoch + mask) % EPOCH_RANGE;
}

function unmaskEpoch(value: number, mask: number): number {
  if (value === 0) return 0;
  return (((value - mask) % EPOCH_RANGE) + EPOCH_RANGE) % EPOCH_RANGE;
}

function frame(type: number, body: Uint8Array): Uint8Array {
  const result = new Uint8Array(1 + body.length);
  result[0] = type;
  result.set(body, 1);
  return result;
}

/** The HELLO frame and its body (the body is part of the transcript); the epoch goes masked. */
export function encodeHello(codec: CborCodec, hello: Hello, secret: Uint8Array): { frame: Uint8Array; body: Uint8Array } {
  const body = Uint8Array.from(
    codec.encode([
      PROTOCOL_MAGIC,
      PROTOCOL_VERSION,
      hello.cluster,
      hello.nodeId,
      hello.incarnation,
      maskEpoch(hello.epoch, epochMask(secret, HELLO_EPOCH_LABEL, hello.nonce)),
      hello.session,
      hello.connection,
      hello.connections,
      hello.channelDigest,
      hello.expectedPeer ?? null,
      Buffer.from(hello.nonce),
    ]),
  );
  return { frame: frame(FRAME_TYPES.hello, body), body };
}

/**
 * Reads a HELLO frame (type byte included), unmasking the epoch with `secret` (a dialer with
 * another secret is refused at its AUTH, before its epoch is used). A wrong magic or version is
 * a protocol mismatch; any other shape problem is a malformed frame.
 */
export function decodeHello(codec: CborCodec, bytes: Uint8Array, secret: Uint8Array): { hello: Hello; body: Uint8Array } {
  if (bytes[0] !== FRAME_TYPES.hello) malformed('expected HELLO');
  const body = bytes.subarray(1);
  let decoded: unknown;
  try {
    decoded = codec.decode(body);
  } catch {
    malformed('HELLO is not valid CBOR');
  }
  if (!Array.isArray(decoded) || decoded.length < 2) throw new HandshakeError(CLOSE_CODES.protocolMismatch, 'not a foundation-channels HELLO');
  if (decoded[0] !== PROTOCOL_MAGIC) throw new HandshakeError(CLOSE_CODES.protocolMismatch, 'not a foundation-channels HELLO');
  if (decoded[1] !== PROTOCOL_VERSION) {
    throw new HandshakeError(CLOSE_CODES.protocolMismatch, `protocol version ${String(decoded[1])} is not ${PROTOCOL_VERSION}`);
  }
  if (decoded.length !== 12) malformed('HELLO must have 12 fields');
  const expected: unknown = decoded[10];
  const epoch = checkCount(decoded[5], 'epoch', Number.MAX_SAFE_INTEGER);
  const nonce = checkNonce(decoded[11]);
  const hello: Hello = {
    cluster: checkId(decoded[2], 'cluster'),
    nodeId: checkId(decoded[3], 'nodeId'),
    incarnation: checkId(decoded[4], 'incarnation'),
    epoch: unmaskEpoch(epoch, epochMask(secret, HELLO_EPOCH_LABEL, nonce)),
    session: checkId(decoded[6], 'session'),
    connection: checkCount(decoded[7], 'connection', 1023),
    connections: checkCount(decoded[8], 'connections', 1024),
    channelDigest: checkId(decoded[9], 'channelDigest'),
    expectedPeer: expected === null ? undefined : checkId(expected, 'expectedPeer'),
    nonce,
  };
  if (hello.connections === 0 || hello.connection >= hello.connections) malformed('connection index out of range');
  return { hello, body: Uint8Array.from(body) };
}

/** HMAC proof for one side of the transcript. */
export function handshakeProof(secret: Uint8Array, side: 'acceptor' | 'dialer', helloBody: Uint8Array, challengeFields: Uint8Array): Uint8Array {
  const hmac = createHmac('sha256', secret);
  hmac.update(side === 'acceptor' ? ACCEPTOR_LABEL : DIALER_LABEL);
  hmac.update(helloBody);
  hmac.update(challengeFields);
  return hmac.digest();
}

/** Constant-time comparison of a received proof with the expected one. */
export function proofMatches(expected: Uint8Array, received: Uint8Array): boolean {
  return received.length === expected.length && timingSafeEqual(expected, received);
}

/**
 * The CHALLENGE frame: type, u16 fields length, CBOR fields (the epoch masked), proof. Returns
 * the fields for the transcript.
 */
export function encodeChallenge(
  codec: CborCodec,
  fields: ChallengeFields,
  secret: Uint8Array,
  helloBody: Uint8Array,
): { frame: Uint8Array; fields: Uint8Array } {
  const epoch = maskEpoch(fields.epoch, epochMask(secret, CHALLENGE_EPOCH_LABEL, helloBody, fields.nonce));
  const encoded = Uint8Array.from(codec.encode([fields.nodeId, fields.incarnation, epoch, Buffer.from(fields.nonce)]));
  if (encoded.length > 0xffff) throw new RangeError('challenge fields too long');
  const proof = handshakeProof(secret, 'acceptor', helloBody, encoded);
  const result = new Uint8Array(3 + encoded.length + PROOF_BYTES);
  result[0] = FRAME_TYPES.challenge;
  result[1] = encoded.length >>> 8;
  result[2] = encoded.length & 0xff;
  result.set(encoded, 3);
  result.set(proof, 3 + encoded.length);
  return { frame: result, fields: encoded };
}

/** Reads a CHALLENGE frame, unmasking the epoch with `secret` (the caller checks the proof before using anything). */
export function decodeChallenge(
  codec: CborCodec,
  bytes: Uint8Array,
  secret: Uint8Array,
  helloBody: Uint8Array,
): { challenge: ChallengeFields; fields: Uint8Array; proof: Uint8Array } {
  if (bytes[0] !== FRAME_TYPES.challenge || bytes.length < 3) malformed('expected CHALLENGE');
  const length = (bytes[1]! << 8) | bytes[2]!;
  if (bytes.length !== 3 + length + PROOF_BYTES) malformed('CHALLENGE length mismatch');
  const fields = Uint8Array.from(bytes.subarray(3, 3 + length));
  let decoded: unknown;
  try {
    decoded = codec.decode(fields);
  } catch {
    malformed('CHALLENGE is not valid CBOR');
  }
  if (!Array.isArray(decoded) || decoded.length !== 4) malformed('CHALLENGE must have 4 fields');
  const epoch = checkCount(decoded[2], 'epoch', Number.MAX_SAFE_INTEGER);
  const nonce = checkNonce(decoded[3]);
  return {
    challenge: {
      nodeId: checkId(decoded[0], 'nodeId'),
      incarnation: checkId(decoded[1], 'incarnation'),
      epoch: unmaskEpoch(epoch, epochMask(secret, CHALLENGE_EPOCH_LABEL, helloBody, nonce)),
      nonce,
    },
    fields,
    proof: Uint8Array.from(bytes.subarray(3 + length)),
  };
}

export function encodeAuth(proof: Uint8Array): Uint8Array {
  return frame(FRAME_TYPES.auth, proof);
}

export function decodeAuth(bytes: Uint8Array): Uint8Array {
  if (bytes[0] !== FRAME_TYPES.auth || bytes.length !== 1 + PROOF_BYTES) malformed('expected AUTH with a 32-byte proof');
  return bytes.subarray(1);
}

export const READY_FRAME: Uint8Array = Uint8Array.of(FRAME_TYPES.ready);
