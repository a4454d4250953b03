import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/**
 * A payload encodes to more bytes than its channel's `maxMessageBytes`: this node's, or, when
 * `peer` is set, the smaller one that peer stated in the handshake.
 */
export class MessageTooLargeError extends FoundationError {
  readonly channel: string;
  readonly bytes: number;
  /** The limit exceeded: the peer's when `peer` is set. */
  readonly maxBytes: number;
  /** The peer whose smaller `maxMessageBytes` was exceeded (undefined: this node's own). */
  readonly peer: string | undefined;
  /** With `peer`: this node's own `maxMessageBytes` for the channel. */
  readonly ownMaxBytes: number | undefined;

  constructor(channel: string, bytes: number, maxBytes: number, peer?: { readonly nodeId: string; readonly ownMaxBytes: number }) {
    super({
      type: 'channels_message_too_large',
      code: CHANNELS_ERROR_CODES.messageTooLarge,
      category: 'data',
      retryStrategy: 'no_retry',
      message:
        peer === undefined
          ? `message of ${bytes} bytes exceeds maxMessageBytes ${maxBytes} of channel "${channel}"`
          : `message of ${bytes} bytes exceeds maxMessageBytes ${maxBytes} of channel "${channel}" on ${peer.nodeId} (this node's is ${peer.ownMaxBytes})`,
      context: peer === undefined ? { channel, bytes, maxBytes } : { channel, bytes, maxBytes, peer: peer.nodeId, ownMaxBytes: peer.ownMaxBytes },
    });
    this.channel = channel;
    this.bytes = bytes;
    this.maxBytes = maxBytes;
    this.peer = peer?.nodeId;
    this.ownMaxBytes = peer?.ownMaxBytes;
  }
}
