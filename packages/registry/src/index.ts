// Public entry of @foundation/registry: everything users may import is exported here, by name.
export { createRegistry, defaultLanTimings, defaultLocalTimings } from './registry';
export type {
  ClusterTimings,
  GlobalRegisterOptions,
  GlobalRegistration,
  HealthOptions,
  NameConflictEvent,
  RegisterOptions,
  Registration,
  Registry,
  RegistryEvent,
  RegistryEventMap,
  RegistryOptions,
  RegistryStats,
  RouteOptions,
  WaitForOptions,
  WatchEvent,
  WatchOptions,
} from './registry';
export type { DiscoveryCriteria } from './core/criteria';
export type { HealthStatus, RegistrationMode, RegistrationScope, ServiceInstance } from './core/types';
export { HEALTH_STATUSES } from './core/types';
export type { RoutingStrategy } from './core/routing';
export { ROUTING_STRATEGIES } from './core/routing';
export type { DownReason } from './core/service-view';
export type { RegistryLimits } from './core/limits';
export { DEFAULT_LIMITS } from './core/limits';
export type { LoggedCommand, RegistryCommand } from './core/global-names';
export { compactRegistryCommands } from './core/global-names';
export { compareVersions, isValidVersion, parseVersion } from './semver/version';
export type { SemVer } from './semver/version';
export { isValidRange, parseRange } from './semver/range';
export type { VersionRange } from './semver/range';
export { satisfies } from './semver/satisfies';
export type { Monitor, MonitorDown } from './ports/monitor';
export type { LeaveReason, MembershipEvent, MembershipEvents } from './ports/membership-events';
export type { Broadcast, BroadcastMessage } from './ports/broadcast';
export type { PeerMessage, PeerTransport } from './ports/peer-transport';
export type { AppliedEntry, ConsensusLog, ConsensusLogCallOptions } from './ports/consensus-log';
export { createLocalConsensusLog } from './ports/local-consensus-log';
export type { LocalConsensusLog } from './ports/local-consensus-log';
export { REGISTRY_ERROR_CODES } from './errors/registry-error-codes';
export type { RegistryErrorCode } from './errors/registry-error-codes';
export { AlreadyRegisteredError } from './errors/already-registered-error';
export type { HolderScope } from './errors/already-registered-error';
export { ConsensusFailedError } from './errors/consensus-failed-error';
export { ConsensusNotConfiguredError } from './errors/consensus-not-configured-error';
export { InvalidNameError } from './errors/invalid-name-error';
export type { NameKind } from './errors/invalid-name-error';
export { InvalidPeerMessageError } from './errors/invalid-peer-message-error';
export { InvalidVersionError } from './errors/invalid-version-error';
export { InvalidVersionRangeError } from './errors/invalid-version-range-error';
export { PeerDecodeError } from './errors/peer-decode-error';
export { RegistryClosedError } from './errors/registry-closed-error';
export { RegistryFullError } from './errors/registry-full-error';
export { RegistryTimeoutError } from './errors/registry-timeout-error';
export { RegistryValidationError } from './errors/registry-validation-error';
export { ServiceNotFoundError } from './errors/service-not-found-error';
export { ServiceUnavailableError } from './errors/service-unavailable-error';
