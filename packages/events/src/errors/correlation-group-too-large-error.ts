import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/**
 * 1.x `resource_exhausted` (2201): `getByCorrelation` or `getCorrelationChain` met a group of
 * more than `maxEvents` events, which it reads whole and so refuses rather than load without a
 * bound. Nothing was returned; page the group with `queryPage({ correlationId, orderBy:
 * 'timestamp' })`, or pass a larger `maxEvents`.
 */
export class CorrelationGroupTooLargeError extends FoundationError {
  // The group's correlation id is the error's own `correlationId` (FoundationError's).
  readonly maxEvents: number;

  constructor(correlationId: string, maxEvents: number) {
    super({
      type: 'resource_exhausted',
      code: EVENT_ERROR_CODES.correlationGroupTooLarge,
      message: `correlation group ${correlationId} holds more than ${maxEvents} events (maxEvents): page it with queryPage({ correlationId, orderBy: 'timestamp' }), or pass a larger maxEvents`,
      context: { correlationId, maxEvents },
      correlationId,
    });
    this.maxEvents = maxEvents;
  }
}
