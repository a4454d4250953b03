// Ecosystems, from the Foundation design: a coordinator and a pool of identical workers under one
// supervisor, started together, healed together (each member is restarted when it fails) and
// inspected together (members, mailbox lengths, a memory estimate).
import type { Pid } from '../core/pid';
import { SupervisorError } from '../errors/supervisor-error';
import { memoryEstimate } from '../runtime/inspection';
import { positiveInteger } from '../runtime/options';
import type { RuntimeImpl } from '../runtime/runtime';
import type { Behavior, ProcessFunction, SpawnOptions, ThreadBehavior } from '../runtime/types';
import { startChild, supervisorState, terminateChild, deleteChild } from './supervisor';
import type { ChildSpec, RestartIntensityOptions, RestartType, ShutdownPolicy } from './types';

export interface EcosystemMemberSpec<Args> {
  readonly behavior: Behavior<unknown, Args> | ProcessFunction<never> | ThreadBehavior;
  readonly args?: Args;
  readonly options?: Omit<SpawnOptions<Args>, 'args' | 'link'>;
  readonly restart?: RestartType;
  readonly shutdown?: ShutdownPolicy;
}

export interface EcosystemSpec<CoordinatorArgs = unknown, WorkerArgs = unknown> {
  /** The ecosystem supervisor's child id under its parent; default `ecosystem-N`. */
  readonly id?: string;
  /** Registered name of the ecosystem supervisor. */
  readonly name?: string;
  /** The supervisor to start under; default the runtime's root supervisor. */
  readonly parent?: Pid;
  readonly coordinator: EcosystemMemberSpec<CoordinatorArgs>;
  readonly workers: EcosystemMemberSpec<WorkerArgs> & {
    readonly count: number;
    /** Per-worker arguments (overrides `args`), by worker index. */
    readonly argsFor?: (index: number) => WorkerArgs;
  };
  /** Default: every member may fail once per 5 s (`maxRestarts` = workers + 1) before the ecosystem gives up. */
  readonly intensity?: RestartIntensityOptions;
}

export interface Ecosystem {
  readonly id: string;
  /** The ecosystem's supervisor (one-for-one over the coordinator and the workers), as it runs now. */
  readonly supervisor: Pid;
  /** The coordinator's current pid (it changes when the coordinator is restarted). */
  coordinator(): Pid | undefined;
  /** The current pids of the running workers, in worker order. */
  workers(): Pid[];
  /** Stops the ecosystem (workers in reverse order, then the coordinator) and removes it from its parent. */
  stop(): Promise<void>;
}

export interface EcosystemMember {
  readonly id: string;
  readonly pid: Pid | undefined;
  readonly mailboxLength: number;
  readonly memoryEstimateBytes: number;
}

export interface EcosystemInfo {
  readonly id: string;
  readonly supervisor: Pid;
  readonly coordinator: EcosystemMember | undefined;
  readonly workers: readonly EcosystemMember[];
  /** Running members, the coordinator included. */
  readonly members: number;
  readonly totalMailboxLength: number;
  /** Rough bytes held by the members (records, mailboxes, state); see ProcessInfo.memoryEstimateBytes. */
  readonly memoryEstimateBytes: number;
}

const COORDINATOR_ID = 'coordinator';
let ecosystemCounter = 0;

function memberSpec<Args>(id: string, member: EcosystemMemberSpec<Args>, args: Args | undefined): ChildSpec {
  return {
    id,
    behavior: member.behavior as Behavior<unknown, unknown>,
    ...(args === undefined ? {} : { args }),
    ...(member.options === undefined ? {} : { options: member.options }),
    restart: member.restart ?? 'permanent',
    ...(member.shutdown === undefined ? {} : { shutdown: member.shutdown }),
  };
}

export async function spawnEcosystem<CoordinatorArgs, WorkerArgs>(
  runtime: RuntimeImpl,
  spec: EcosystemSpec<CoordinatorArgs, WorkerArgs>,
): Promise<Ecosystem> {
  const count = positiveInteger('workers.count', spec.workers.count, 1);
  ecosystemCounter += 1;
  const id = spec.id ?? `ecosystem-${ecosystemCounter}`;
  const parent = spec.parent ?? runtime.rootSupervisor;
  const children: ChildSpec[] = [memberSpec(COORDINATOR_ID, spec.coordinator, spec.coordinator.args)];
  for (let index = 0; index < count; index += 1) {
    const args = spec.workers.argsFor === undefined ? spec.workers.args : spec.workers.argsFor(index);
    children.push(memberSpec(`worker-${index}`, spec.workers, args));
  }
  const supervisor = await startChild(runtime, parent, {
    id,
    ...(spec.name === undefined ? {} : { name: spec.name }),
    supervisor: {
      strategy: 'one-for-one',
      intensity: { maxRestarts: spec.intensity?.maxRestarts ?? count + 1, periodMs: spec.intensity?.periodMs ?? 5_000 },
      children,
    },
  });
  if (supervisor === undefined) throw new SupervisorError('start-failed', `ecosystem "${id}" did not start`);
  // The ecosystem's supervisor as its parent runs it now: the parent restarts it with a new pid
  // when it gives up (its children's restarts went past its intensity).
  let known = supervisor;
  const current = (): Pid => {
    const child = supervisorState(runtime, parent)?.children.find((candidate) => candidate.spec.id === id);
    if (child?.pid !== undefined) known = child.pid;
    return known;
  };
  const members = (): { coordinator: Pid | undefined; workers: Pid[] } => {
    const state = supervisorState(runtime, current());
    if (state === undefined) return { coordinator: undefined, workers: [] };
    let coordinator: Pid | undefined;
    const workers: Pid[] = [];
    for (const child of state.children) {
      if (child.pid === undefined || child.record === undefined) continue;
      if (child.spec.id === COORDINATOR_ID) coordinator = child.pid;
      else workers.push(child.pid);
    }
    return { coordinator, workers };
  };
  return {
    id,
    get supervisor() {
      return current();
    },
    coordinator: () => members().coordinator,
    workers: () => members().workers,
    async stop() {
      if (!runtime.isAlive(parent)) return;
      await terminateChild(runtime, parent, id);
      await deleteChild(runtime, parent, id);
    },
  };
}

export function ecosystemInfo(runtime: RuntimeImpl, ecosystem: Ecosystem): EcosystemInfo {
  const state = supervisorState(runtime, ecosystem.supervisor);
  let coordinator: EcosystemMember | undefined;
  const workers: EcosystemMember[] = [];
  let members = 0;
  let totalMailboxLength = 0;
  let memoryEstimateBytes = 0;
  for (const child of state?.children ?? []) {
    const record = child.record;
    const live = record !== undefined && runtime.isAlive(record.pid);
    const mailboxLength = live ? record.mailbox.length : 0;
    const memory = live ? memoryEstimate(record) : 0;
    const member: EcosystemMember = { id: child.spec.id, pid: live ? record.pid : undefined, mailboxLength, memoryEstimateBytes: memory };
    if (live) members += 1;
    totalMailboxLength += mailboxLength;
    memoryEstimateBytes += memory;
    if (child.spec.id === COORDINATOR_ID) coordinator = member;
    else workers.push(member);
  }
  return { id: ecosystem.id, supervisor: ecosystem.supervisor, coordinator, workers, members, totalMailboxLength, memoryEstimateBytes };
}
