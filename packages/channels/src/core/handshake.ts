// The handshake every connection performs before any application frame:
//
//   dialer   → HELLO      magic, version, cluster, node id, incarnation (masked), epoch (masked),
//                          session, connection index and count, channel-set digest, digest of the
//                          expected peer (or null), nonce (32 bytes), wire limits
//   acceptor → CHALLENGE  its node id, incarnation (masked), epoch (masked), nonce, wire limits,
//                          and proof_a
//   dialer   → AUTH       proof_d
//   acceptor → READY
//
// proof_a = HMAC-SHA256(key, "foundation-channels/3 acceptor" 0x00 HELLO-body CHALLENGE-fields)
// proof_d = HMAC-SHA256(key, "foundation-channels/3 dialer"   0x00 HELLO-body CHALLENGE-fields)
//
// The key is not the secret itself but scrypt(secret, "foundation-channels/3 cluster key" 0x00
// cluster, N = 2^15, r = 8, p = 1) (`deriveClusterKey`), derived once per process for each secret
// and cluster (driver/cluster-key.ts). Whoever opens a connection receives a CHALLENGE, and with it
// a proof over bytes it knows: with the secret as the HMAC key, it could test guesses of the secret
// offline at HMAC speed, millions a second; now each guess costs one scrypt (about 0.1 s and 32 MiB
// on one core here), and the cluster name in the salt keeps one table of guesses from serving every
// cluster. A secret of enough entropy still matters: the derivation slows guessing, it does not
// stop it. Below, the "secret" every function takes is that key.
//
// Both nonces are fresh, so a recorded proof is useless later, and the two labels keep one
// side's proof from being replayed as the other's. The secret never crosses the wire. Each
// side checks the other's proof with a constant-time comparison before anything else happens.
// The proofs cover the bytes as sent, masked fields and digest included. Every label carries the
// protocol version, which HELLO states too, so no proof or mask of one version is one of another.
//
// The epoch is the sender's session epoch for the node at the other end: a random value the
// sender adopts at its first session with that node, and a fresh one each time it drops what it
// kept for that node's session (its peer-down). A sender that holds none for the node (it never
// met it, or forgot it past limits.rememberedPeers) sends a fresh value, never one the node could
// have seen before. A peer that sees another epoch than last time from the same incarnation knows
// the session it kept did not go on, as when the incarnation changes. A dialer that does not
// know yet whom it reaches (a URL it never connected to) sends a fresh value, and dials again if
// it reaches a node it holds another epoch for. Both proofs cover both epochs.
//
// Each side sends its HELLO or CHALLENGE before the other has proved anything, so what those
// frames carry is shown to whoever opens a connection or answers one. Three fields would tell
// such a party something: the epoch (whether and when this node dropped what it kept for the
// node at the other end), the incarnation (when a node restarted) and the node id a dialer
// expects to reach. So none of them travels in the clear:
//
//   - the epoch goes plus a 48-bit mask, modulo 2^48;
//   - the incarnation (1–64 base64url characters) goes with each character shifted, in the
//     base64url alphabet, by one byte of a key stream (modulo 64), so that it stays a string of
//     the same length: to anyone without the secret, that many random characters;
//   - the expected peer goes as a digest, HMAC-SHA256(key, "…/3 expected peer" 0x00
//     dialer-nonce node-id), which the acceptor compares with the digest of its own id.
//
// Masks and key streams are HMAC-SHA256 under the key (derived from the secret) over a label and
// the connection's fresh nonces, so they are new on every connection and only holders of the
// secret can compute them:
//
//   HELLO      epoch mask        = first 6 bytes of HMAC(key, "…/3 hello epoch" 0x00 dialer-nonce)
//              incarnation key   = HMAC(key, "…/3 hello incarnation" 0x00 i dialer-nonce), i = 0, 1
//   CHALLENGE  epoch mask        = first 6 bytes of HMAC(key, "…/3 challenge epoch" 0x00 HELLO-body acceptor-nonce)
//              incarnation key   = HMAC(key, "…/3 challenge incarnation" 0x00 i HELLO-body acceptor-nonce)
//
// A party without the secret can still send a HELLO (masked under any key it likes): what the
// acceptor unmasks from it is then noise, which nothing uses before that party's AUTH, and the
// AUTH fails (4003). Likewise on the dialer's side for a CHALLENGE. The acceptor compares the
// expected-peer digest with its own id once the dialer's proof holds, and refuses a mismatch
// (4013) then: before the proof, a mismatch could as well mean another secret, which must be
// refused as such (4003). A dialer that holds the secret notices the wrong node itself, from
// CHALLENGE, and refuses first; the acceptor's check stops a dialer that does not.
//
// Version 1 sent those fields in the clear, and a version-1 node can read them no other way, so
// later versions do not speak version 1 at all: its HELLO is refused with protocolMismatch.
// Version 2 used the secret itself as the HMAC key; version 3 derives the key (above).
// Version 4 opens a session's lane connections on demand (the OPEN frame, see link.ts): a
// version-3 dialer opens them all at once and takes OPEN for a malformed frame, and a
// version-3 acceptor waits for all of them, so the two do not mix either.
//
// Version 5 adds the wire limits, [frameBytes, chunkBytes (null: Infinity), [maxMessageBytes of
// each channel]], to HELLO and CHALLENGE (wire-limits.ts: each side sends by the smaller of its
// own value and the other's). A version-4 node has no way to state them, nor to skip them: under
// its own version number it would refuse a HELLO of 13 fields and a CHALLENGE of 5 as malformed.
// Taking one of its HELLOs without them (guessing its values) would connect only when the old
// node is the one dialing, and then on values it never stated. So a version-4 peer is refused
// like any other version, with 4001 and a message saying why, on both sides. The proofs cover
// the limits, as every field.
//
// Version 6 lets a BLOCK frame carry acknowledgements (its ACKS flag and section, frames.ts), so
// that a reliable request and its reply need no ACK frame of their own. A version-5 node refuses
// the flag as an unknown one (4006) and would close the session at the first reply; the handshake
// and its fields are those of version 5.
import { createHmac, scryptSync, timingSafeEqual } from 'node:crypto';
import { MAX_CHANNELS, MAX_MESSAGE_BYTES } from '../channel-config';
import type { CborCodec } from './cbor';
import { CborScreenError } from './cbor-screen';
import { CLOSE_CODES } from './close-codes';
import { FRAME_TYPES } from './frames';
import type { WireLimits } from './wire-limits';

export const PROTOCOL_MAGIC = 'foundation-channels';
export const PROTOCOL_VERSION = 6;
export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;
/**
 * Handshake frames are small; anything larger before READY is refused, on its WebSocket header
 * (the connection lowers ws's cap on one message to this until the handshake finishes).
 */
export const MAX_HANDSHAKE_FRAME_BYTES = 4096;

const label = (name: string): Buffer => Buffer.from(`${PROTOCOL_MAGIC}/${PROTOCOL_VERSION} ${name}\0`, 'latin1');
const ACCEPTOR_LABEL = label('acceptor');
const DIALER_LABEL = label('dialer');
const HELLO_EPOCH_LABEL = label('hello epoch');
const CHALLENGE_EPOCH_LABEL = label('challenge epoch');
const HELLO_INCARNATION_LABEL = label('hello incarnation');
const CHALLENGE_INCARNATION_LABEL = label('challenge incarnation');
const EXPECTED_PEER_LABEL = label('expected peer');
const CLUSTER_KEY_LABEL = label('cluster key');
/** Epochs are 48-bit numbers (randomBytes(6)); masks are taken modulo this. */
const EPOCH_RANGE = 2 ** 48;
const ID_PATTERN = /^[\x21-\x7e]{1,200}$/;
/** Incarnations are base64url (the transport makes them from 12 random bytes: 16 characters). */
const INCARNATION_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const BASE64URL_INDEX = new Map<string, number>([...BASE64URL].map((character, index) => [character, index]));

/** A HELLO as its sender fills it in (`encodeHello` masks what must not travel in the clear). */
export interface Hello {
  readonly cluster: string;
  readonly nodeId: string;
  /** 1–64 base64url characters. */
  readonly incarnation: string;
  readonly epoch: number;
  readonly session: string;
  readonly connection: number;
  readonly connections: number;
  readonly channelDigest: string;
  /** The node id the dialer expects to reach (a dial by node id), or undefined (by URL). */
  readonly expectedPeer: string | undefined;
  readonly nonce: Uint8Array;
  /** The dialer's frame, chunk and message sizes (wire-limits.ts). */
  readonly limits: WireLimits;
}

/**
 * A HELLO as the acceptor reads it, unmasked with its secret: what the dialer expects to reach
 * is only a digest, which `helloExpects` compares with a node id.
 */
export interface ReceivedHello extends Omit<Hello, 'expectedPeer'> {
  readonly expectedPeer: Uint8Array | undefined;
}

export interface ChallengeFields {
  readonly nodeId: string;
  readonly incarnation: string;
  readonly epoch: number;
  readonly nonce: Uint8Array;
  /** The acceptor's frame, chunk and message sizes (wire-limits.ts). */
  readonly limits: WireLimits;
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

function checkIncarnation(value: unknown): string {
  if (typeof value !== 'string' || !INCARNATION_PATTERN.test(value)) malformed('incarnation must be 1–64 base64url characters');
  return value;
}

function checkSize(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) malformed(`${field} must be an integer in ${min}..${max}`);
  return value;
}

/**
 * The wire form of a node's limits: [frameBytes, chunkBytes (null: Infinity), [maxMessageBytes…]].
 * A chunkBytes above what a peer reads (MAX_SAFE_INTEGER; the options take any integer) goes as
 * null: a chunk never exceeds its message (below 2^32 bytes), so it cuts nothing, as Infinity.
 */
function limitsToWire(limits: WireLimits): unknown[] {
  const chunkBytes = limits.chunkBytes <= Number.MAX_SAFE_INTEGER ? limits.chunkBytes : null;
  return [limits.frameBytes, chunkBytes, [...limits.maxMessageBytes]];
}

/** Reads limits in their wire form, within the ranges a node's own options may take (options.ts). */
function limitsFromWire(value: unknown): WireLimits {
  if (!Array.isArray(value) || value.length !== 3) malformed('limits must be [frameBytes, chunkBytes, maxMessageBytes]');
  const [frameBytes, chunkBytes, maxMessageBytes] = value as unknown[];
  if (!Array.isArray(maxMessageBytes) || maxMessageBytes.length === 0 || maxMessageBytes.length > MAX_CHANNELS) {
    malformed(`limits.maxMessageBytes must list 1–${MAX_CHANNELS} channels`);
  }
  return {
    frameBytes: checkSize(frameBytes, 'limits.frameBytes', 1024, 16 * 1024 * 1024),
    chunkBytes: chunkBytes === null ? Infinity : checkSize(chunkBytes, 'limits.chunkBytes', 1024, Number.MAX_SAFE_INTEGER),
    maxMessageBytes: (maxMessageBytes as unknown[]).map((bytes) => checkSize(bytes, 'limits.maxMessageBytes', 1, MAX_MESSAGE_BYTES)),
  };
}

/** scrypt's cost: 2^15 × 8 × 128 bytes = 32 MiB of memory per derivation. */
const KEY_SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

/**
 * The HMAC key of a cluster: scrypt of the secret, salted with the protocol and the cluster name.
 * Deliberately slow (about 0.1 s): derive it once, not per connection.
 */
export function deriveClusterKey(secret: Uint8Array, cluster: string): Buffer {
  return scryptSync(secret, Buffer.concat([CLUSTER_KEY_LABEL, Buffer.from(cluster, 'latin1')]), 32, KEY_SCRYPT);
}

function hmacOf(secret: Uint8Array, label: Uint8Array, parts: readonly Uint8Array[]): Buffer {
  const hmac = createHmac('sha256', secret);
  hmac.update(label);
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

/** The mask an epoch travels under: the first 6 bytes of an HMAC over `label` and `parts`. */
function epochMask(secret: Uint8Array, label: Uint8Array, ...parts: Uint8Array[]): number {
  return hmacOf(secret, label, parts).readUIntBE(0, 6);
}

function maskEpoch(epoch: number, mask: number): number {
  return (epoch + mask) % EPOCH_RANGE;
}

function unmaskEpoch(value: number, mask: number): number {
  return (((value - mask) % EPOCH_RANGE) + EPOCH_RANGE) % EPOCH_RANGE;
}

/**
 * Shifts each character of a base64url `incarnation` within the alphabet by one byte of a key
 * stream from `label` and `parts` (`direction` 1 masks, -1 unmasks). Bytes modulo 64 are uniform
 * (256 is a multiple of 64), so a masked incarnation is as random as the key stream.
 */
function shiftIncarnation(incarnation: string, direction: 1 | -1, secret: Uint8Array, label: Uint8Array, parts: readonly Uint8Array[]): string {
  const blocks = Math.ceil(incarnation.length / 32);
  const stream = Buffer.concat(Array.from({ length: blocks }, (_, block) => hmacOf(secret, label, [Uint8Array.of(block), ...parts])));
  let result = '';
  for (let index = 0; index < incarnation.length; index += 1) {
    const value = BASE64URL_INDEX.get(incarnation[index]!)!;
    result += BASE64URL[(value + direction * (stream[index]! % 64) + 64) % 64];
  }
  return result;
}

/** The digest of the node id a dialer expects, for the connection whose dialer nonce is `nonce`. */
function expectedPeerDigest(secret: Uint8Array, nonce: Uint8Array, nodeId: string): Buffer {
  return hmacOf(secret, EXPECTED_PEER_LABEL, [nonce, Buffer.from(nodeId, 'latin1')]);
}

/**
 * Whether the dialer of `hello` expects to reach `nodeId` (true too for a dial by URL, which
 * expects no one in particular). Constant-time; meaningful only once the dialer's proof holds.
 */
export function helloExpects(secret: Uint8Array, hello: ReceivedHello, nodeId: string): boolean {
  if (hello.expectedPeer === undefined) return true;
  return proofMatches(expectedPeerDigest(secret, hello.nonce, nodeId), hello.expectedPeer);
}

function frame(type: number, body: Uint8Array): Uint8Array {
  const result = new Uint8Array(1 + body.length);
  result[0] = type;
  result.set(body, 1);
  return result;
}

/**
 * The HELLO frame and its body (the body is part of the transcript); the incarnation and the
 * epoch go masked, the expected peer as a digest.
 */
export function encodeHello(codec: CborCodec, hello: Hello, secret: Uint8Array): { frame: Uint8Array; body: Uint8Array } {
  const nonce = Buffer.from(hello.nonce);
  const body = Uint8Array.from(
    codec.encode([
      PROTOCOL_MAGIC,
      PROTOCOL_VERSION,
      hello.cluster,
      hello.nodeId,
      shiftIncarnation(checkIncarnation(hello.incarnation), 1, secret, HELLO_INCARNATION_LABEL, [nonce]),
      maskEpoch(hello.epoch, epochMask(secret, HELLO_EPOCH_LABEL, nonce)),
      hello.session,
      hello.connection,
      hello.connections,
      hello.channelDigest,
      hello.expectedPeer === undefined ? null : expectedPeerDigest(secret, nonce, hello.expectedPeer),
      nonce,
      limitsToWire(hello.limits),
    ]),
  );
  return { frame: frame(FRAME_TYPES.hello, body), body };
}

/**
 * Reads a HELLO frame (type byte included), unmasking the incarnation and the epoch with
 * `secret` (a dialer with another secret is refused at its AUTH, before they are used). A wrong
 * magic or version is a protocol mismatch; any other shape problem is a malformed frame.
 */
export function decodeHello(codec: CborCodec, bytes: Uint8Array, secret: Uint8Array): { hello: ReceivedHello; body: Uint8Array } {
  if (bytes[0] !== FRAME_TYPES.hello) malformed('expected HELLO');
  const body = bytes.subarray(1);
  let decoded: unknown;
  try {
    decoded = codec.decodeUntagged(body);
  } catch (error) {
    malformed(error instanceof CborScreenError ? `HELLO: ${error.message}` : 'HELLO is not valid CBOR');
  }
  if (!Array.isArray(decoded) || decoded.length < 2) throw new HandshakeError(CLOSE_CODES.protocolMismatch, 'not a foundation-channels HELLO');
  if (decoded[0] !== PROTOCOL_MAGIC) throw new HandshakeError(CLOSE_CODES.protocolMismatch, 'not a foundation-channels HELLO');
  if (decoded[1] !== PROTOCOL_VERSION) {
    // Typically a node of another release: the whole cluster must speak one version.
    const version = typeof decoded[1] === 'number' ? String(decoded[1]) : 'unknown';
    throw new HandshakeError(CLOSE_CODES.protocolMismatch, `protocol version ${version} is not ${PROTOCOL_VERSION}: run one version of @foundation/channels on every node`);
  }
  if (decoded.length !== 13) malformed('HELLO must have 13 fields');
  const expected: unknown = decoded[10];
  if (expected !== null && !(expected instanceof Uint8Array && expected.length === PROOF_BYTES)) malformed(`expected peer must be null or a ${PROOF_BYTES}-byte digest`);
  const epoch = checkCount(decoded[5], 'epoch', EPOCH_RANGE - 1);
  const nonce = checkNonce(decoded[11]);
  const hello: ReceivedHello = {
    cluster: checkId(decoded[2], 'cluster'),
    nodeId: checkId(decoded[3], 'nodeId'),
    incarnation: shiftIncarnation(checkIncarnation(decoded[4]), -1, secret, HELLO_INCARNATION_LABEL, [nonce]),
    epoch: unmaskEpoch(epoch, epochMask(secret, HELLO_EPOCH_LABEL, nonce)),
    session: checkId(decoded[6], 'session'),
    connection: checkCount(decoded[7], 'connection', 1023),
    connections: checkCount(decoded[8], 'connections', 1024),
    channelDigest: checkId(decoded[9], 'channelDigest'),
    expectedPeer: expected === null ? undefined : Uint8Array.from(expected),
    nonce,
    limits: limitsFromWire(decoded[12]),
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
 * The CHALLENGE frame: type, u16 fields length, CBOR fields (the incarnation and the epoch
 * masked), proof. Returns the fields for the transcript.
 */
export function encodeChallenge(
  codec: CborCodec,
  fields: ChallengeFields,
  secret: Uint8Array,
  helloBody: Uint8Array,
): { frame: Uint8Array; fields: Uint8Array } {
  const nonce = Buffer.from(fields.nonce);
  const epoch = maskEpoch(fields.epoch, epochMask(secret, CHALLENGE_EPOCH_LABEL, helloBody, nonce));
  const incarnation = shiftIncarnation(checkIncarnation(fields.incarnation), 1, secret, CHALLENGE_INCARNATION_LABEL, [helloBody, nonce]);
  const encoded = Uint8Array.from(codec.encode([fields.nodeId, incarnation, epoch, nonce, limitsToWire(fields.limits)]));
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

/** Reads a CHALLENGE frame, unmasking the incarnation and the epoch with `secret` (the caller checks the proof before using anything). */
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
    decoded = codec.decodeUntagged(fields);
  } catch (error) {
    malformed(error instanceof CborScreenError ? `CHALLENGE: ${error.message}` : 'CHALLENGE is not valid CBOR');
  }
  if (!Array.isArray(decoded) || decoded.length !== 5) malformed('CHALLENGE must have 5 fields');
  const epoch = checkCount(decoded[2], 'epoch', EPOCH_RANGE - 1);
  const nonce = checkNonce(decoded[3]);
  return {
    challenge: {
      nodeId: checkId(decoded[0], 'nodeId'),
      incarnation: shiftIncarnation(checkIncarnation(decoded[1]), -1, secret, CHALLENGE_INCARNATION_LABEL, [helloBody, nonce]),
      epoch: unmaskEpoch(epoch, epochMask(secret, CHALLENGE_EPOCH_LABEL, helloBody, nonce)),
      nonce,
      limits: limitsFromWire(decoded[4]),
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
