import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';
import { describeCloseCode } from '../core/close-codes';

/** A connection attempt failed or was refused during the handshake; `closeCode` says why. */
export class ConnectionRefusedError extends FoundationError {
  readonly target: string;
  readonly closeCode: number;

  constructor(target: string, closeCode: number, reason: string, cause?: unknown) {
    super({
      type: 'channels_connection_refused',
      code: CHANNELS_ERROR_CODES.connectionRefused,
      category: 'external',
      subcategory: 'network',
      retryStrategy: 'exponential_backoff',
      message: `connection to ${target} failed: ${describeCloseCode(closeCode)}${reason ? ` (${reason})` : ''}`,
      context: { target, closeCode, reason },
      cause,
    });
    this.target = target;
    this.closeCode = closeCode;
  }
}
