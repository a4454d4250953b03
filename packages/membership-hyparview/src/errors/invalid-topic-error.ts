import { FoundationError } from '@foundation/core';
import { MEMBERSHIP_ERROR_CODES } from './codes';

/** A topic is not a 1–200 character string, or starts with `$` (reserved for the membership). */
export class InvalidTopicError extends FoundationError {
  readonly topic: unknown;

  constructor(topic: unknown, problem: string) {
    super({
      type: 'membership_invalid_topic',
      code: MEMBERSHIP_ERROR_CODES.invalidTopic,
      category: 'data',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message: `invalid topic ${typeof topic === 'string' ? `"${topic.slice(0, 80)}"` : typeof topic}: ${problem}`,
      context: { topic: typeof topic === 'string' ? topic.slice(0, 200) : typeof topic, problem },
    });
    this.topic = topic;
  }
}
