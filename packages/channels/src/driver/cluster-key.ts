// The handshake's HMAC key for a secret and a cluster (`deriveClusterKey`: scrypt, about 0.1 s),
// kept per process, so that transports created with the same secret and cluster (several nodes
// in one process, tests) pay for the slow derivation once.
import { createHmac, randomBytes } from 'node:crypto';
import { deriveClusterKey } from '../core/handshake';

/**
 * Derived keys, looked up by an HMAC of (secret, cluster) under a random key of this process, so
 * that what the map holds is no faster way to test guesses of the secret than the derivation.
 * Bounded; the oldest goes first.
 */
const derivedKeys = new Map<string, Buffer>();
const MAX_DERIVED_KEYS = 16;
const cacheKey = randomBytes(32);

export function clusterKey(secret: Uint8Array, cluster: string): Buffer {
  const digest = createHmac('sha256', cacheKey).update(secret).update('\0').update(cluster).digest('hex');
  let key = derivedKeys.get(digest);
  if (key === undefined) {
    key = deriveClusterKey(secret, cluster);
    if (derivedKeys.size >= MAX_DERIVED_KEYS) derivedKeys.delete(derivedKeys.keys().next().value!);
    derivedKeys.set(digest, key);
  }
  return key;
}
