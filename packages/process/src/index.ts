// Public entry of @foundation/process: everything users may import is exported here, by name.
export { createRuntime } from './runtime/runtime';
export type { Runtime, RuntimeStatus, ShutdownOptions, StartSupervisorOptions } from './runtime/runtime';
export type { RuntimeStats } from './runtime/inspection';
export type {
  DeadLetter,
  DeadLetterReason,
  ContextCarrier,
  RemoteLimits,
  RuntimeOptions,
  SchedulingOptions,
  TelemetrySink,
  ThreadOptions,
} from './runtime/options';
export { createEventLoopDriver, createSchedulerDriver } from './runtime/driver';
export type { RunQueueDriver } from './runtime/driver';
export { cpuIntensive } from './runtime/cpu-intensive';
export type { CpuIntensiveBudget, CpuIntensiveOptions } from './runtime/cpu-intensive';
export { NO_REPLY } from './runtime/types';
export type {
  Behavior,
  CallOptions,
  Destination,
  ExitReason,
  MailboxInfo,
  MailboxOptions,
  MonitorRef,
  NoReply,
  OverflowPolicy,
  ProcessFunction,
  ProcessInfo,
  ProcessSelf,
  ProcessStatus,
  RemoteName,
  ReplyTo,
  SendOptions,
  SpawnOptions,
  ThreadBehavior,
  ThreadSpawnOptions,
} from './runtime/types';
export { isDownMessage, isExitMessage } from './runtime/system-messages';
export type { DownMessage, ExitMessage } from './runtime/system-messages';
export { Pid, comparePids, isValidNodeId } from './core/pid';
export { createTransportRouter } from './remote/router';
export type { PeerTransport, RemoteReceiver, RemoteRouter, TransportInboundMessage, TransportRouterOptions } from './remote/router';
export { decodeSignal, encodeSignal } from './core/signals';
export type { Signal, WireSignal } from './core/signals';
export type {
  ChildCounts,
  ChildInfo,
  ChildSpec,
  ChildStatus,
  RestartIntensityOptions,
  RestartType,
  ShutdownPolicy,
  SupervisorChildSpec,
  SupervisorSpec,
  SupervisorStrategy,
  WorkerChildSpec,
} from './supervisor/types';
export type { Ecosystem, EcosystemInfo, EcosystemMember, EcosystemMemberSpec, EcosystemSpec } from './supervisor/ecosystem';
export { PROCESS_ERROR_CODES } from './errors/codes';
export type { ProcessErrorKind } from './errors/codes';
export { ProcessError } from './errors/process-error';
export { NoProcessError } from './errors/no-process-error';
export { CallTimeoutError } from './errors/call-timeout-error';
export { CallExitedError } from './errors/call-exited-error';
export { MailboxFullError } from './errors/mailbox-full-error';
export { InvalidPidError } from './errors/invalid-pid-error';
export { InvalidNameError } from './errors/invalid-name-error';
export { NameTakenError } from './errors/name-taken-error';
export { RuntimeStoppedError } from './errors/runtime-stopped-error';
export { SupervisorError } from './errors/supervisor-error';
export type { SupervisorErrorKind } from './errors/supervisor-error';
export { WorkerCrashedError } from './errors/worker-crashed-error';
export { ThreadStartTimeoutError } from './errors/thread-start-timeout-error';
export { MalformedSignalError } from './errors/malformed-signal-error';
export { InvalidOptionError } from './errors/invalid-option-error';
export { UnsupportedError } from './errors/unsupported-error';
export { NoConnectionError } from './errors/no-connection-error';
export { UncloneableMessageError } from './errors/uncloneable-message-error';
export type { UncloneableKind } from './errors/uncloneable-message-error';
