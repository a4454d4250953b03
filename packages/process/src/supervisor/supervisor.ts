// Supervisors, as OTP defines them: a process that traps exits, starts its children in order,
// restarts them by strategy and restart type, gives up (exits with `shutdown`) when restarts
// exceed the intensity, and stops its children in reverse order when it stops. Requests
// (start/terminate/restart/delete a child, which/count children) are calls to the supervisor
// process, so they are ordered with the exits it is handling.
import type { Pid } from '../core/pid';
import { RestartIntensity } from '../core/restart-intensity';
import { isNormalReason } from '../core/exit-signal';
import { SupervisorError } from '../errors/supervisor-error';
import { UnsupportedError } from '../errors/unsupported-error';
import type { CallEnvelope } from '../runtime/envelopes';
import { DEAD, RUNNING, STARTING } from '../runtime/lifecycle';
import type { ProcessRecord } from '../runtime/process-record';
import type { RuntimeImpl } from '../runtime/runtime';
import { isExitFor } from '../runtime/system-messages';
import { callOf, targetOf } from '../runtime/process-self';
import { NO_REPLY } from '../runtime/types';
import type { Behavior, ExitReason } from '../runtime/types';
import { normalizeChild, normalizeSupervisor } from './child-spec';
import type { NormalizedChild, NormalizedSupervisorSpec } from './child-spec';
import type { ChildCounts, ChildInfo, ChildSpec, ChildStatus, ShutdownPolicy, SupervisorSpec } from './types';

export interface SupervisorArgs {
  readonly spec: SupervisorSpec | NormalizedSupervisorSpec;
  /** Called when the supervisor gives up (the root supervisor shuts the runtime down). */
  readonly onGiveUp?: () => void;
}

/** @internal One child as the supervisor tracks it. */
export interface ChildState {
  spec: NormalizedChild;
  pid: Pid | undefined;
  record: ProcessRecord | undefined;
  /**
   * Its restart failed and a retry waits in the mailbox (OTP's `{restarting, Pid}`): cleared
   * when it starts, and by terminateChild and a group restart that stops it, which cancel the
   * retry.
   */
  restarting?: boolean;
  /**
   * It is being stopped (by a restart or terminateChild), with `pid` and `record` already
   * cleared: a supervisor stopped meanwhile waits for it too, so that its exit still means its
   * children are gone.
   */
  stopping?: Promise<void> | undefined;
}

/** @internal A supervisor's state. */
export interface SupervisorState {
  readonly spec: NormalizedSupervisorSpec;
  readonly intensity: RestartIntensity;
  readonly children: ChildState[];
  readonly onGiveUp: (() => void) | undefined;
  /** Set once the supervisor has given up: it restarts nothing more. */
  givingUp: boolean;
}

/** A supervisor's own record: its callbacks get `self`, a facade, and reach the record through it. */
type Self = ProcessRecord & { state: SupervisorState };

function recordOf(self: unknown): Self {
  return targetOf(self) as Self;
}

type Request =
  | { readonly op: 'start-child'; readonly spec: ChildSpec }
  | { readonly op: 'terminate-child' | 'restart-child' | 'delete-child'; readonly id: string }
  | { readonly op: 'which-children' | 'count-children' };

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * A restart that failed is retried through the mailbox, so the supervisor stays responsive. It
 * names only the child that failed, as OTP's `{try_again_restart, Id}` does: the strategy decides
 * again, when the retry runs, which children restart with it.
 */
interface RetryRestart {
  readonly id: string;
}

/**
 * The requests the API functions below make and the retries a supervisor sends itself. Anyone
 * may call or send to a supervisor, anything at all (a proxy whose traps throw, one that
 * answers any property read), so a supervisor recognises its own by identity: testing
 * membership runs no code of the value's, and nothing outside this module can add to these.
 */
const requests = new WeakSet<object>();
const retries = new WeakSet<object>();

function retryRestartMessage(id: string): RetryRestart {
  const message: RetryRestart = { id };
  retries.add(message);
  return message;
}

function isRequest(value: unknown): value is Request {
  return typeof value === 'object' && value !== null && requests.has(value);
}

function isRetryRestart(value: unknown): value is RetryRestart {
  return typeof value === 'object' && value !== null && retries.has(value);
}

function isSupervisorSpecNormalized(spec: SupervisorSpec | NormalizedSupervisorSpec): spec is NormalizedSupervisorSpec {
  return typeof (spec as NormalizedSupervisorSpec).maxRestarts === 'number' && Array.isArray(spec.children) && typeof (spec as NormalizedSupervisorSpec).periodMs === 'number';
}

function runtimeOf(self: Self): RuntimeImpl {
  return self.runtime;
}

function findById(state: SupervisorState, id: string): ChildState | undefined {
  return state.children.find((child) => child.spec.id === id);
}

function findByPid(state: SupervisorState, pid: Pid): ChildState | undefined {
  for (const child of state.children) if (child.pid !== undefined && child.pid.equals(pid)) return child;
  return undefined;
}

function startFailed(child: NormalizedChild, cause: unknown): SupervisorError {
  return new SupervisorError('start-failed', `child "${child.id}" failed to start`, { childId: child.id, cause });
}

/**
 * Starts one child. Returns nothing when it started synchronously, a promise when its `init` is
 * async; throws (or rejects) SupervisorError when it could not start.
 */
function startOne(self: Self, child: ChildState): void | Promise<void> {
  const runtime = runtimeOf(self);
  let record: ProcessRecord;
  try {
    if (child.spec.type === 'supervisor') {
      record = runtime.spawnProcess(
        supervisorBehavior,
        {
          args: { spec: child.spec.supervisor! } satisfies SupervisorArgs,
          trapExits: true,
          ...(child.spec.name === undefined ? {} : { name: child.spec.name }),
        },
        self,
      );
    } else {
      record = runtime.spawnProcess(child.spec.behavior!, Object.assign({}, child.spec.options, { args: child.spec.args }), self);
    }
  } catch (error) {
    throw startFailed(child.spec, error);
  }
  if (record.status === DEAD) throw startFailed(child.spec, record.exitReason);
  child.pid = record.pid;
  child.record = record;
  child.restarting = false;
  if (record.status === STARTING) {
    return runtime.whenStarted(record).then(undefined, (reason: unknown) => {
      if (child.record === record) {
        child.pid = undefined;
        child.record = undefined;
      }
      throw startFailed(child.spec, reason);
    });
  }
  return undefined;
}

/** Stops one child by its shutdown policy and waits until it has exited. */
async function stopOne(self: Self, child: ChildState): Promise<void> {
  const record = child.record;
  const pid = child.pid;
  child.pid = undefined;
  child.record = undefined;
  if (record === undefined || pid === undefined || record.status === DEAD) return;
  const stopping = stopProcess(self, child.spec.shutdown, record, pid);
  child.stopping = stopping;
  await stopping;
  if (child.stopping === stopping) child.stopping = undefined;
}

/** Sends the exit signals of a shutdown policy to a child; settles (never rejects) once it has exited. */
async function stopProcess(self: Self, shutdown: ShutdownPolicy, record: ProcessRecord, pid: Pid): Promise<void> {
  const runtime = runtimeOf(self);
  const exited = runtime.whenExited(pid);
  if (shutdown === 'brutal-kill') {
    runtime.links.sendExit(self.pid, pid, 'kill');
    await exited;
    return;
  }
  runtime.links.sendExit(self.pid, pid, 'shutdown');
  if (shutdown === 'infinity' || record.status === DEAD) {
    await exited;
    return;
  }
  const timer = runtime.clock.setTimer(shutdown, () => runtime.links.sendExit(self.pid, pid, 'kill'));
  await exited;
  timer.cancel();
}

/** Stops children in reverse order of `children`. */
async function stopInReverse(self: Self, children: readonly ChildState[]): Promise<void> {
  for (let index = children.length - 1; index >= 0; index -= 1) {
    const child = children[index]!;
    if (child.record !== undefined) await stopOne(self, child);
    // Already being stopped by a restart this stop interrupted: wait for it all the same.
    else if (child.stopping !== undefined) await child.stopping;
  }
}

function isRunning(child: ChildState): boolean {
  return child.record !== undefined && child.record.status !== DEAD;
}

/**
 * Whether the supervisor holds the child's pid: it runs, or it has exited and its exit waits in
 * the mailbox. Only handling that exit lets go of the pid, as OTP's supervisor state changes
 * only when it handles the 'EXIT'.
 */
function holdsPid(child: ChildState): boolean {
  return child.record !== undefined;
}

/**
 * What whichChildren reports, as OTP's which_children gives the pid the supervisor holds,
 * `restarting` or `undefined`: a child whose exit waits in the mailbox is still `running` with
 * its pid, as restartChild and deleteChild refuse it as running, until handling the exit
 * restarts it or lets it stop. A started child is no longer restarting (startOne clears it), so
 * `running` goes with a pid.
 */
function childStatus(child: ChildState): ChildStatus {
  if (holdsPid(child)) return 'running';
  return child.restarting === true ? 'restarting' : 'stopped';
}

/**
 * Whether the supervisor still supervises: a restart awaits (stopping a slow child, a child's
 * async init), and the supervisor may be stopped or give up meanwhile. Starting children after
 * that would leave them linked to a dead supervisor, supervised by nobody.
 */
function supervising(self: Self): boolean {
  return (self.status === RUNNING || self.status === STARTING) && !self.state.givingUp;
}

/**
 * Starts `children` in order. A child that fails is retried later through the mailbox, by the
 * strategy (each retry counts against the intensity); the children after it stay stopped until then.
 */
async function startInOrder(self: Self, children: readonly ChildState[]): Promise<void> {
  for (let index = 0; index < children.length; index += 1) {
    if (!supervising(self)) return;
    const child = children[index]!;
    if (isRunning(child)) continue;
    try {
      const pending = startOne(self, child);
      if (pending !== undefined) await pending;
    } catch (error) {
      runtimeOf(self).emit(['foundation', 'supervisor', 'child-start-failed'], { count: 1 }, { supervisor: self.pid, child: child.spec.id, error });
      child.restarting = true;
      self.send(self.pid, retryRestartMessage(child.spec.id));
      return;
    }
  }
}

function giveUp(self: Self, reason: unknown): void {
  const state = self.state;
  if (state.givingUp) return;
  state.givingUp = true;
  runtimeOf(self).emit(
    ['foundation', 'supervisor', 'shutdown'],
    { restarts: state.intensity.recent },
    { supervisor: self.pid, reason: 'reached_max_restart_intensity', lastExit: reason },
  );
  state.onGiveUp?.();
  self.stop('shutdown');
}

/**
 * Restarts `child`, which exited abnormally (or is permanent) or whose restart failed (a retry),
 * by the supervisor's strategy, once the intensity allows.
 */
function restartByStrategy(self: Self, child: ChildState, reason: unknown): void | Promise<void> {
  const state = self.state;
  if (!state.intensity.record(runtimeOf(self).clock.monotonic())) {
    giveUp(self, reason);
    return undefined;
  }
  runtimeOf(self).emit(['foundation', 'supervisor', 'child-restart'], { count: 1 }, { supervisor: self.pid, child: child.spec.id, reason });
  switch (state.spec.strategy) {
    case 'one-for-one':
      return startInOrder(self, [child]);
    case 'one-for-all':
      return restartGroup(self, state.children, child);
    case 'rest-for-one': {
      const index = state.children.indexOf(child);
      return restartGroup(self, state.children.slice(index), child);
    }
  }
}

/** Stops `group` (except the child that already exited) in reverse order, then starts it again in order. */
async function restartGroup(self: Self, group: readonly ChildState[], exited: ChildState): Promise<void> {
  const state = self.state;
  const others = group.filter((child) => child !== exited);
  // A child of the group whose own restart failed is stopped with the rest and is no longer
  // restarting, as OTP's terminate_children sets its pid to undefined: its queued retry is
  // dropped, and this restart starts it in its turn or, if a child before it fails, leaves it
  // stopped until that child's retry. Else the old retry would start it while that child is down.
  for (const child of others) child.restarting = false;
  await stopInReverse(self, others);
  if (!supervising(self)) return;
  // Temporary children stopped by a sibling's restart are not restarted: their specs go.
  for (const child of others) {
    if (child.spec.restart === 'temporary') state.children.splice(state.children.indexOf(child), 1);
  }
  await startInOrder(self, group.filter((child) => state.children.includes(child)));
}

function onChildExit(self: Self, pid: Pid, reason: unknown): void | Promise<void> {
  const state = self.state;
  const child = findByPid(state, pid);
  if (child === undefined || state.givingUp) return undefined;
  child.pid = undefined;
  child.record = undefined;
  const { restart } = child.spec;
  if (restart === 'temporary') {
    state.children.splice(state.children.indexOf(child), 1);
    return undefined;
  }
  if (restart === 'transient' && isNormalReason(reason)) return undefined;
  return restartByStrategy(self, child, reason);
}

/**
 * A retry of a restart that failed. It runs only while that child is still restarting, as OTP's
 * try_again_restart does: one that terminateChild stopped meanwhile, or that another restart or a
 * restartChild after a terminateChild started, cancels it, and the children the failed restart
 * left stopped stay so. Otherwise it reruns the strategy's restart for the child, as
 * try_again_restart does: under one-for-all every child, under rest-for-one the child and every
 * child after it. The children it restarts with the failed one are stopped first, also those
 * started or exited since the restart failed: one whose exit still waits in the mailbox lets go
 * of its pid here, so that exit is ignored rather than restarting it once more on its own,
 * before the failed child is back, and counting a second time.
 */
async function retryRestart(self: Self, id: string): Promise<void> {
  const state = self.state;
  const failed = findById(state, id);
  if (failed === undefined || failed.restarting !== true) return;
  failed.restarting = false;
  if (state.givingUp) return;
  // A retry is a restart like one after an exit: it counts against the intensity, and is told the
  // same way, so whoever counts restarts counts it; its reason is the failure.
  return restartByStrategy(self, failed, 'restart failed');
}

/** `active` counts live processes only, as OTP's count_children asks is_process_alive of each pid. */
function counts(state: SupervisorState): ChildCounts {
  let active = 0;
  let supervisors = 0;
  let workers = 0;
  for (const child of state.children) {
    if (isRunning(child)) active += 1;
    if (child.spec.type === 'supervisor') supervisors += 1;
    else workers += 1;
  }
  return { specs: state.children.length, active, supervisors, workers };
}

async function serve(self: Self, request: Request): Promise<Outcome> {
  const state = self.state;
  try {
    switch (request.op) {
      case 'which-children':
        return {
          ok: true,
          value: state.children.map(
            (child): ChildInfo => ({
              id: child.spec.id,
              pid: holdsPid(child) ? child.pid : undefined,
              status: childStatus(child),
              type: child.spec.type,
              restart: child.spec.restart,
            }),
          ),
        };
      case 'count-children':
        return { ok: true, value: counts(state) };
      case 'start-child': {
        const spec = normalizeChild(request.spec);
        if (findById(state, spec.id) !== undefined) {
          throw new SupervisorError('duplicate-child', `a child with id "${spec.id}" exists`, { childId: spec.id });
        }
        const child: ChildState = { spec, pid: undefined, record: undefined };
        state.children.push(child);
        try {
          const pending = startOne(self, child);
          if (pending !== undefined) await pending;
        } catch (error) {
          const index = state.children.indexOf(child);
          if (index >= 0) state.children.splice(index, 1);
          throw error;
        }
        return { ok: true, value: child.pid };
      }
      case 'terminate-child': {
        const child = findById(state, request.id);
        if (child === undefined) throw new SupervisorError('unknown-child', `no child "${request.id}"`, { childId: request.id });
        child.restarting = false;
        await stopOne(self, child);
        if (child.spec.restart === 'temporary') state.children.splice(state.children.indexOf(child), 1);
        return { ok: true, value: undefined };
      }
      case 'restart-child': {
        const child = findById(state, request.id);
        refuseUnlessStopped(child, request.id);
        const pending = startOne(self, child);
        if (pending !== undefined) await pending;
        return { ok: true, value: child.pid };
      }
      case 'delete-child': {
        const child = findById(state, request.id);
        refuseUnlessStopped(child, request.id);
        state.children.splice(state.children.indexOf(child), 1);
        return { ok: true, value: undefined };
      }
    }
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * What restartChild and deleteChild refuse, as OTP's restart_child and delete_child answer
 * not_found, restarting and running: an unknown id; a child whose restart failed and whose
 * retry waits in the mailbox (the retry restarts it by the strategy, which a start here would
 * race and a delete cancel); a child whose pid the supervisor still holds, also one that has
 * exited while its exit waits in the mailbox (handling that exit restarts it by the strategy,
 * with the children the strategy restarts with it).
 */
function refuseUnlessStopped(child: ChildState | undefined, id: string): asserts child is ChildState {
  if (child === undefined) throw new SupervisorError('unknown-child', `no child "${id}"`, { childId: id });
  if (child.restarting === true) throw new SupervisorError('child-restarting', `child "${id}" is being restarted`, { childId: id });
  if (holdsPid(child)) throw new SupervisorError('child-running', `child "${id}" is running`, { childId: id });
}

/** @internal The behavior every supervisor process runs. */
export const supervisorBehavior: Behavior<SupervisorState, SupervisorArgs> = {
  async init(args, self) {
    const spec = isSupervisorSpecNormalized(args.spec) ? args.spec : normalizeSupervisor(args.spec);
    self.trapExits(true);
    const state: SupervisorState = {
      spec,
      intensity: new RestartIntensity({ maxRestarts: spec.maxRestarts, periodMs: spec.periodMs }),
      children: spec.children.map((child) => ({ spec: child, pid: undefined, record: undefined })),
      onGiveUp: args.onGiveUp,
      givingUp: false,
    };
    // Set before any child starts: a supervisor stopped from here on runs its terminate, which
    // stops the children started so far (the runtime's terminate looks for this state).
    self.state = state;
    const record = recordOf(self);
    for (const child of state.children) {
      // Stopped meanwhile (its terminate is stopping what started): start nothing more.
      if (!supervising(record)) throw new SupervisorError('start-failed', 'the supervisor was stopped while starting its children');
      try {
        const pending = startOne(record, child);
        if (pending !== undefined) await pending;
      } catch (error) {
        // A child that cannot start makes the supervisor fail to start: stop what started, in
        // reverse (unless the supervisor was stopped, and its terminate does that already).
        if (supervising(record)) await stopInReverse(record, state.children);
        throw error;
      }
    }
    return state;
  },

  handleMessage(message, self) {
    // Only an exit the runtime delivered to this supervisor: a lookalike, or a genuine exit a
    // process passes on, must not make it start a second copy of a child that still runs.
    const record = recordOf(self);
    if (isExitFor(message, record)) return onChildExit(record, message.from, message.reason);
    if (isRetryRestart(message)) return retryRestart(record, message.id);
    return undefined;
  },

  handleCall(request, self, from) {
    const record = recordOf(self);
    if (!isRequest(request)) {
      // Not one of ours (the API functions below make every request): the call fails, as a call
      // to a process without handleCall does, with an error the caller cannot take for a reply.
      // A gen_server would crash on an unknown call; a supervisor must outlive any caller.
      record.runtime.failCall(callOf(from) as CallEnvelope, new UnsupportedError(`${record.pid.toString()} is a supervisor: it answers only its own requests (startChild, whichChildren, ...)`));
      return NO_REPLY;
    }
    return serve(record, request);
  },

  async terminate(_reason: ExitReason, self) {
    const state = self.state as SupervisorState | undefined;
    if (state === undefined) return;
    state.givingUp = true;
    await stopInReverse(recordOf(self), state.children);
  },
};

// ---- the API: calls to a local supervisor -------------------------------------------------------

function supervisorRecord(runtime: RuntimeImpl, supervisor: Pid): ProcessRecord {
  const record = runtime.record(supervisor);
  if (record === undefined) {
    throw new SupervisorError('not-a-supervisor', `no live local process ${String(supervisor)}`);
  }
  if (record.behavior !== supervisorBehavior) {
    throw new SupervisorError('not-a-supervisor', `${supervisor.toString()} is not a supervisor`);
  }
  return record;
}

async function request(runtime: RuntimeImpl, supervisor: Pid, body: Request): Promise<unknown> {
  const record = supervisorRecord(runtime, supervisor);
  requests.add(body);
  const outcome = await runtime.call<Outcome>(record.pid, body, { timeout: Number.POSITIVE_INFINITY });
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

/** Adds a child to a running supervisor and starts it; resolves with its pid. */
export async function startChild(runtime: RuntimeImpl, supervisor: Pid, spec: ChildSpec): Promise<Pid | undefined> {
  return (await request(runtime, supervisor, { op: 'start-child', spec })) as Pid | undefined;
}

/** Stops a child by its shutdown policy; its spec stays (except a temporary child's). */
export async function terminateChild(runtime: RuntimeImpl, supervisor: Pid, id: string): Promise<void> {
  await request(runtime, supervisor, { op: 'terminate-child', id });
}

/** Starts a stopped child again from its spec. */
export async function restartChild(runtime: RuntimeImpl, supervisor: Pid, id: string): Promise<Pid | undefined> {
  return (await request(runtime, supervisor, { op: 'restart-child', id })) as Pid | undefined;
}

/** Removes the spec of a stopped child. */
export async function deleteChild(runtime: RuntimeImpl, supervisor: Pid, id: string): Promise<void> {
  await request(runtime, supervisor, { op: 'delete-child', id });
}

export async function whichChildren(runtime: RuntimeImpl, supervisor: Pid): Promise<ChildInfo[]> {
  return (await request(runtime, supervisor, { op: 'which-children' })) as ChildInfo[];
}

export async function countChildren(runtime: RuntimeImpl, supervisor: Pid): Promise<ChildCounts> {
  return (await request(runtime, supervisor, { op: 'count-children' })) as ChildCounts;
}

/** @internal The state of a live local supervisor, for synchronous inspection (ecosystems). */
export function supervisorState(runtime: RuntimeImpl, supervisor: Pid): SupervisorState | undefined {
  const record = runtime.record(supervisor);
  if (record === undefined || record.behavior !== supervisorBehavior || record.status !== RUNNING) return undefined;
  return record.state as SupervisorState;
}
