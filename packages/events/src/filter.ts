// Filters of live subscriptions, and the match both the store and a cluster-wide composition use.
import type { FoundationEvent } from './event';
import { EventValidationError } from './errors/event-validation-error';
import { checkCorrelationId, checkType } from './internal/check-event';

export interface EventFilter {
  /** Only events of this type. */
  readonly type?: string | undefined;
  /** Only events of one of these types. */
  readonly types?: readonly string[] | undefined;
  readonly correlationId?: string | undefined;
  /** Any other condition; called only for events that pass the fields above. */
  readonly where?: ((event: FoundationEvent) => boolean) | undefined;
}

/** A filter, checked once: `'*'` or `{}` match every event. */
export function normalizeFilter(filter: EventFilter | '*'): EventFilter {
  if (filter === '*') return {};
  if (filter === null || typeof filter !== 'object') throw new EventValidationError('filter', "must be an object or '*'");
  if (filter.type !== undefined) checkType(filter.type);
  if (filter.types !== undefined) {
    if (!Array.isArray(filter.types)) throw new EventValidationError('filter', 'types must be an array');
    // for-of, not forEach: forEach skips holes, and a hole would be kept as a type.
    for (const type of filter.types as unknown[]) checkType(type);
  }
  if (filter.correlationId !== undefined) checkCorrelationId(filter.correlationId);
  if (filter.where !== undefined && typeof filter.where !== 'function') throw new EventValidationError('filter', 'where must be a function');
  const types: readonly string[] | undefined = filter.types;
  return { ...filter, ...(types === undefined ? {} : { types: [...types] }) };
}

/** Whether `event` passes `filter`. `where` runs last, and only when everything else matched. */
export function eventMatches(filter: EventFilter, event: FoundationEvent): boolean {
  if (filter.type !== undefined && event.type !== filter.type) return false;
  if (filter.types !== undefined && !filter.types.includes(event.type)) return false;
  if (filter.correlationId !== undefined && event.correlationId !== filter.correlationId) return false;
  return filter.where === undefined || filter.where(event);
}
