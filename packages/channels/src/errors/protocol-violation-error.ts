import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';
import { describeCloseCode } from '../core/close-codes';

/**
 * A peer (or an unauthenticated client) sent input that breaks the protocol. The connection is
 * closed with `closeCode`; the error is reported through the `protocol-error` event and counted,
 * never thrown into the caller.
 */
export class ProtocolViolationError extends FoundationError {
  readonly closeCode: number;
  readonly remoteAddress: string | undefined;
  readonly peer: string | undefined;

  constructor(options: { closeCode: number; reason: string; remoteAddress?: string | undefined; peer?: string | undefined; cause?: unknown }) {
    super({
      type: 'channels_protocol_violation',
      code: CHANNELS_ERROR_CODES.protocolViolation,
      category: 'data',
      severity: 'high',
      retryStrategy: 'no_retry',
      message: `${describeCloseCode(options.closeCode)}: ${options.reason}`,
      context: { closeCode: options.closeCode, reason: options.reason, remoteAddress: options.remoteAddress, peer: options.peer },
      cause: options.cause,
    });
    this.closeCode = options.closeCode;
    this.remoteAddress = options.remoteAddress;
    this.peer = options.peer;
  }
}
