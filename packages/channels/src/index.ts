// Public entry of @foundation/channels: everything users may import is exported here, by name.
export { createTransport } from './driver/transport';
export { certificateNamesNode } from './driver/certificate-identity';
export type { NodeIdBinding } from './driver/certificate-identity';
export type {
  ChannelEvent,
  ChannelEventName,
  ConnectionErrorEvent,
  HandlerErrorEvent,
  InboundMessage,
  PeerEventName,
  RequestHandler,
  RequestOptions,
  SendErrorEvent,
  SendOptions,
  Transport,
} from './driver/transport';
export type { ChannelStats, ChannelCounters, LaneCounters, PeerStats, TransportStats } from './driver/stats';
export { defaultChannels } from './channel-config';
export type { ChannelDefinition, ChannelOptions, ConnectionMode } from './channel-config';
export { defaultLanConfig, defaultLocalConfig } from './options';
export type {
  LimitOptions,
  ListenOptions,
  ResolvedLimits,
  ResolvedTiming,
  SecurityOptions,
  TelemetryEvent,
  TimingOptions,
  TlsOptions,
  TransportOptions,
} from './options';
export { CLOSE_CODES, closeCodeName, describeCloseCode } from './core/close-codes';
export type { CloseCodeName } from './core/close-codes';
export { CHANNELS_ERROR_CODES } from './errors/codes';
export type { ChannelsErrorKind } from './errors/codes';
export { ChannelsConfigError } from './errors/channels-config-error';
export { ConnectionRefusedError } from './errors/connection-refused-error';
export { DuplicateNodeIdError } from './errors/duplicate-node-id-error';
export { MessageTooLargeError } from './errors/message-too-large-error';
export { NoResponderError } from './errors/no-responder-error';
export { PayloadEncodingError } from './errors/payload-encoding-error';
export { PeerUnavailableError } from './errors/peer-unavailable-error';
export { RequestInterruptedError } from './errors/request-interrupted-error';
export { ProtocolViolationError } from './errors/protocol-violation-error';
export { QueueFullError } from './errors/queue-full-error';
export { RequestTimeoutError } from './errors/request-timeout-error';
export { TransportClosedError } from './errors/transport-closed-error';
export { UnknownChannelError } from './errors/unknown-channel-error';
