// What a call to another node fails with, and what a message to another node is reported as,
// when its signal never went out because the router or the transport threw, both where it was
// sent at once and where it was held while the connection came up.
import { FoundationError } from '@foundation/core';
import { PROCESS_ERROR_CODES } from '../errors/codes';
import { UncloneableMessageError } from '../errors/uncloneable-message-error';
import type { CallEnvelope } from '../runtime/envelopes';
import type { DeadLetterReason } from '../runtime/options';

/**
 * Why a call request did not go out, from what the router threw: a node it cannot connect to
 * is `noconnection`; anything else is a request the transport cannot carry (channels throws
 * PayloadEncodingError for a function or a symbol), which no connection would help.
 */
export function callNotSent(call: CallEnvelope, node: string, thrown: unknown): Error {
  if (FoundationError.hasType(thrown, PROCESS_ERROR_CODES.noConnection)) return thrown;
  return new UncloneableMessageError(String(call.target), 'call', thrown, node);
}

/**
 * The dead letter reason of a message that did not go out, from what the router threw: as for a
 * call, a node it cannot connect to is `noconnection`, and anything else a message the transport
 * cannot carry, `uncloneable` as for one a worker thread cannot copy.
 */
export function messageNotSent(thrown: unknown): DeadLetterReason {
  return FoundationError.hasType(thrown, PROCESS_ERROR_CODES.noConnection) ? 'noconnection' : 'uncloneable';
}
