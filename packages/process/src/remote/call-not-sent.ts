// What a call to another node fails with when its request never went out because the router or
// the transport threw, both where the request was sent at once and where it was held while the
// connection came up.
import { FoundationError } from '@foundation/core';
import { PROCESS_ERROR_CODES } from '../errors/codes';
import { UncloneableMessageError } from '../errors/uncloneable-message-error';
import type { CallEnvelope } from '../runtime/envelopes';

/**
 * Why a call request did not go out, from what the router threw: a node it cannot connect to
 * is `noconnection`; anything else is a request the transport cannot carry (channels throws
 * PayloadEncodingError for a function or a symbol), which no connection would help.
 */
export function callNotSent(call: CallEnvelope, node: string, thrown: unknown): Error {
  if (FoundationError.hasType(thrown, PROCESS_ERROR_CODES.noConnection)) return thrown;
  return new UncloneableMessageError(String(call.target), 'call', thrown, node);
}
