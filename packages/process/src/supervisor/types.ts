// Supervisor specifications: strategies, child specs, restart intensity.
import type { Pid } from '../core/pid';
import type { Behavior, ProcessFunction, SpawnOptions, ThreadBehavior } from '../runtime/types';

/**
 * - `one-for-one`: only the child that exited is restarted;
 * - `one-for-all`: every other child is stopped (in reverse start order), then all are restarted in order;
 * - `rest-for-one`: the children started after it are stopped (in reverse order), then it and they are restarted in order.
 */
export type SupervisorStrategy = 'one-for-one' | 'one-for-all' | 'rest-for-one';

/** `permanent` is always restarted; `transient` only after an abnormal exit (not `normal` or `shutdown`); `temporary` never. */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/**
 * How a child is stopped: `exit(child, 'shutdown')`, then after this many milliseconds
 * `exit(child, 'kill')`; `brutal-kill` kills at once; `infinity` waits for as long as it takes
 * (the default for supervisors, so that a subtree always stops in order).
 */
export type ShutdownPolicy = number | 'brutal-kill' | 'infinity';

export interface RestartIntensityOptions {
  /** Default 3 (OTP's default intensity). */
  readonly maxRestarts?: number;
  /** Default 5,000 ms (OTP's default period of 5 s). */
  readonly periodMs?: number;
}

export interface WorkerChildSpec<Args = unknown> {
  readonly id: string;
  readonly behavior: Behavior<unknown, Args> | ProcessFunction<never> | ThreadBehavior;
  readonly args?: Args;
  /** Spawn options for the child (a name, a mailbox bound, thread isolation...). */
  readonly options?: Omit<SpawnOptions<Args>, 'args' | 'link'>;
  readonly restart?: RestartType;
  /** Default 5,000 ms. */
  readonly shutdown?: ShutdownPolicy;
}

export interface SupervisorChildSpec {
  readonly id: string;
  /** A nested supervisor. */
  readonly supervisor: SupervisorSpec;
  /** Registered name of the nested supervisor. */
  readonly name?: string;
  readonly restart?: RestartType;
  /** Default `infinity`. */
  readonly shutdown?: ShutdownPolicy;
}

export type ChildSpec = WorkerChildSpec | SupervisorChildSpec;

export interface SupervisorSpec {
  /** Default `one-for-one`. */
  readonly strategy?: SupervisorStrategy;
  readonly intensity?: RestartIntensityOptions;
  /** Started in order when the supervisor starts; stopped in reverse order. */
  readonly children?: readonly ChildSpec[];
}

/**
 * - `running`: the supervisor holds the child's `pid`: it runs, or it has exited and the
 *   supervisor has not yet handled its exit (OTP's which_children gives that pid too; handling
 *   the exit restarts it by the strategy or leaves it stopped);
 * - `restarting`: its restart failed and the supervisor's retry of it waits in the supervisor's
 *   mailbox (OTP's which_children reports `restarting` in place of the pid);
 * - `stopped`: not running and not being restarted (a transient child that ended normally, a
 *   child terminateChild stopped, one a failed restart of an earlier child left stopped).
 */
export type ChildStatus = 'running' | 'restarting' | 'stopped';

export interface ChildInfo {
  readonly id: string;
  /** Undefined while the child is not running (a transient child whose ended exit was handled, or between restarts). */
  readonly pid: Pid | undefined;
  /** Whether the child runs, waits for the retry of a failed restart, or is stopped; `running` exactly when `pid` is set. */
  readonly status: ChildStatus;
  readonly type: 'worker' | 'supervisor';
  readonly restart: RestartType;
}

export interface ChildCounts {
  /** Child specs the supervisor holds. */
  readonly specs: number;
  /** Children whose process is alive (one that has exited counts no more, even before the supervisor handles its exit). */
  readonly active: number;
  readonly supervisors: number;
  readonly workers: number;
}
