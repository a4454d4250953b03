import { FoundationError } from '@foundation/core';
import { MEMBERSHIP_ERROR_CODES } from './codes';

/** A broadcast payload exceeds `maxPayloadBytes`. */
export class PayloadTooLargeError extends FoundationError {
  readonly bytes: number;
  readonly limit: number;

  constructor(topic: string, bytes: number, limit: number) {
    super({
      type: 'membership_payload_too_large',
      code: MEMBERSHIP_ERROR_CODES.payloadTooLarge,
      category: 'data',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message: `broadcast on "${topic}" is ${bytes} bytes; the limit is ${limit}`,
      context: { topic, bytes, limit },
    });
    this.bytes = bytes;
    this.limit = limit;
  }
}
