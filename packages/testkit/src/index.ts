// Public entry of @foundation/testkit: everything users may import is exported here, by name.
export { SIMULATION_ERROR_CODES, SimulationError } from './errors/simulation-error';
export type { SimulationErrorKind, SimulationErrorOptions } from './errors/simulation-error';
export { createSimulation } from './simulation/simulation';
export { checkDeterminism, seedFromEnvironment } from './simulation/determinism';
export type { DeterminismReport, Scenario } from './simulation/determinism';
export { latencySampler } from './simulation/latency';
export type { LatencyModel, LatencySampler } from './simulation/latency';
export { estimateSize } from './simulation/value-hash';
export { countTimers } from './timer-count';
export type { TimerCount } from './timer-count';
export type {
  InboundMessage,
  LinkStats,
  NetworkOptions,
  NetworkStats,
  NodeContext,
  NodeOptions,
  PartitionOptions,
  PeerEvent,
  RunUntilOptions,
  SendOptions,
  SimNetwork,
  SimNode,
  SimTransport,
  Simulation,
  SimulationOptions,
  TraceCheckpoint,
  TraceMode,
} from './simulation/types';
export { checkLinearizability } from './linearizability/checker';
export type { CheckOptions, CheckResult, LinearizableResult, NotLinearizableResult, UnknownResult } from './linearizability/checker';
export { createHistoryRecorder, toHistory, toOperations } from './linearizability/history';
export type { HistoryEvent, HistoryEventType, HistoryRecorder, Operation, PendingOperation } from './linearizability/history';
export { INCONSISTENT, canonical, kvModel, registerModel } from './linearizability/models';
export type { Model } from './linearizability/models';
