// Public entry of @foundation/membership-hyparview: everything users may import is exported here, by name.
export { createMembership, TOPOLOGY_TOPIC } from './driver/membership';
export type {
  Broadcast,
  BroadcastMessage,
  Membership,
  MembershipEventMap,
  MembershipEvents,
  MembershipOptions,
  MembershipStats,
  TopologyChange,
  TopologyStatus,
} from './driver/membership';
export type { InboundMessage, PeerTransport, TransportSendOptions } from './driver/transport';
export { staticSeeds } from './driver/seeds';
export type { SeedProvider } from './driver/seeds';
export { createDnsSeeds, defaultNodeId } from './driver/dns-seeds';
export type { DnsAddress, DnsRecordType, DnsResolverLike, DnsSeedsOptions } from './driver/dns-seeds';
export { TOPOLOGY_MODES, defaultLanConfig, defaultLocalConfig, isResolvedConfig, resolveConfig, sizeViews } from './core/config';
export type {
  ClientServerConfig,
  ClientServerRole,
  DeepPartial,
  FailureDetectionConfig,
  FullMeshConfig,
  HyParViewConfig,
  MembershipConfig,
  PlumtreeConfig,
  TopologyConfig,
  TopologyMode,
  ViewSizes,
} from './core/config';
export type { InitialView } from './core/hyparview';
export type { LeaveReason } from './core/peer-service';
export type { HealthSnapshot, SwitchReason } from './core/topology-policy';
export { SERVERS_TOPIC } from './core/client-server';
export { MEMBERSHIP_ERROR_CODES } from './errors/codes';
export type { MembershipErrorKind } from './errors/codes';
export { MembershipConfigError } from './errors/membership-config-error';
export { MembershipStoppedError } from './errors/membership-stopped-error';
export { JoinTimeoutError } from './errors/join-timeout-error';
export { SeedResolutionError } from './errors/seed-resolution-error';
export { PayloadTooLargeError } from './errors/payload-too-large-error';
export { InvalidTopicError } from './errors/invalid-topic-error';
