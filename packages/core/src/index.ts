// Public entry of @foundation/core: everything users may import is exported here, by name.
export { FoundationError, SERIALIZED_ERROR_TAG, describeCode, isRetryable, retryDelay } from './errors/foundation-error';
export type { FoundationErrorOptions, SerializedFoundationError, SerializedPlainCause } from './errors/foundation-error';
export {
  ERROR_CATEGORIES,
  ERROR_CODES,
  RETRY_STRATEGIES,
  SEVERITIES,
  UNKNOWN_ERROR_CODE,
  categoryForCode,
  errorTypeForCode,
  inferRetryStrategy,
  lookupErrorType,
  retryDelayFor,
} from './errors/codes';
export type { ErrorCategory, ErrorCodeEntry, KnownErrorType, RetryStrategy, Severity } from './errors/codes';
export { DEFAULT_PLAIN_DATA_LIMITS, isPlainObject, isUnsafeKey, toPlainData } from './errors/plain-data';
export type { PlainDataLimits } from './errors/plain-data';
export { createSystemClock, sleep, systemClock } from './time/clock';
export type { Clock, Scheduler, SystemClockOptions, Timer } from './time/clock';
export { BaseRandom } from './random/random';
export type { Random } from './random/random';
export { SeededRandom, createSeededRandom, hashString32, mix32 } from './random/seeded-random';
export type { Seed } from './random/seeded-random';
export { CryptoRandom, createCryptoRandom } from './random/crypto-random';
export { createSequence, isUuid, uuidV4 } from './ids';
export type { Sequence } from './ids';
export { backoffDelay, createBackoff } from './backoff';
export type { Backoff, BackoffOptions, Jitter } from './backoff';
export { createConnectWait } from './connect-wait';
export { lockDirectory } from './directory-lock';
export type { DirectoryLock } from './directory-lock';
export type { ConnectWait, ConnectWaitOptions } from './connect-wait';
export { createPublisher } from './publisher';
export { isWellFormed, utf8Length } from './utf8';
export type { Publisher, PublisherOptions } from './publisher';
