// Validation of child specs: everything a supervisor accepts is checked before it is used.
import { SupervisorError } from '../errors/supervisor-error';
import type { Behavior, ProcessFunction, SpawnOptions, ThreadBehavior } from '../runtime/types';
import type { ChildSpec, RestartType, ShutdownPolicy, SupervisorSpec, SupervisorStrategy } from './types';

export const DEFAULT_WORKER_SHUTDOWN_MS = 5_000;
export const DEFAULT_MAX_RESTARTS = 3;
export const DEFAULT_PERIOD_MS = 5_000;
const MAX_CHILD_ID_LENGTH = 255;

const STRATEGIES: readonly SupervisorStrategy[] = ['one-for-one', 'one-for-all', 'rest-for-one'];
const RESTARTS: readonly RestartType[] = ['permanent', 'transient', 'temporary'];

export interface NormalizedChild {
  readonly id: string;
  readonly type: 'worker' | 'supervisor';
  readonly restart: RestartType;
  readonly shutdown: ShutdownPolicy;
  readonly behavior: Behavior<unknown, unknown> | ProcessFunction<never> | ThreadBehavior | undefined;
  readonly args: unknown;
  readonly options: Omit<SpawnOptions<unknown>, 'args' | 'link'>;
  readonly supervisor: NormalizedSupervisorSpec | undefined;
  readonly name: string | undefined;
}

export interface NormalizedSupervisorSpec {
  readonly strategy: SupervisorStrategy;
  readonly maxRestarts: number;
  readonly periodMs: number;
  readonly children: readonly NormalizedChild[];
}

function invalid(message: string, childId?: string): SupervisorError {
  return new SupervisorError('invalid-spec', message, childId === undefined ? {} : { childId });
}

function checkShutdown(value: unknown, fallback: ShutdownPolicy, id: string): ShutdownPolicy {
  if (value === undefined) return fallback;
  if (value === 'brutal-kill' || value === 'infinity') return value;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  throw invalid(`child "${id}": shutdown must be a number of ms ≥ 0, 'brutal-kill' or 'infinity'`, id);
}

/**
 * Runs `read` over a spec, turning whatever its getters or proxy traps throw into an
 * `invalid-spec` error: a spec arrives from anyone who may call a supervisor, and one that
 * cannot be read is invalid, not a reason for the supervisor to fail.
 */
function readSpec<Result>(read: () => Result): Result {
  try {
    return read();
  } catch (error) {
    let ours = false;
    try {
      ours = error instanceof SupervisorError;
    } catch {
      // Whatever was thrown cannot even be inspected: not one of ours.
    }
    if (ours) throw error;
    throw new SupervisorError('invalid-spec', 'a spec that cannot be read', { cause: error });
  }
}

export function normalizeChild(spec: ChildSpec): NormalizedChild {
  return readSpec(() => readChild(spec));
}

function readChild(spec: ChildSpec): NormalizedChild {
  if (typeof spec !== 'object' || spec === null) throw invalid('a child spec must be an object');
  const { id } = spec;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_CHILD_ID_LENGTH) {
    throw invalid(`a child id must be a string of 1–${MAX_CHILD_ID_LENGTH} characters`);
  }
  const restart = spec.restart ?? 'permanent';
  if (!RESTARTS.includes(restart)) throw invalid(`child "${id}": restart must be one of ${RESTARTS.join(', ')}`, id);
  if ('supervisor' in spec && spec.supervisor !== undefined) {
    return {
      id,
      type: 'supervisor',
      restart,
      shutdown: checkShutdown(spec.shutdown, 'infinity', id),
      behavior: undefined,
      args: undefined,
      options: {},
      supervisor: normalizeSupervisor(spec.supervisor),
      name: spec.name,
    };
  }
  if (!('behavior' in spec) || (typeof spec.behavior !== 'function' && (typeof spec.behavior !== 'object' || spec.behavior === null))) {
    throw invalid(`child "${id}": needs a behavior (object or function) or a supervisor spec`, id);
  }
  return {
    id,
    type: 'worker',
    restart,
    shutdown: checkShutdown(spec.shutdown, DEFAULT_WORKER_SHUTDOWN_MS, id),
    behavior: spec.behavior,
    args: spec.args,
    options: spec.options ?? {},
    supervisor: undefined,
    name: spec.options?.name,
  };
}

export function normalizeSupervisor(spec: SupervisorSpec): NormalizedSupervisorSpec {
  return readSpec(() => readSupervisor(spec));
}

function readSupervisor(spec: SupervisorSpec): NormalizedSupervisorSpec {
  if (typeof spec !== 'object' || spec === null) throw invalid('a supervisor spec must be an object');
  const strategy = spec.strategy ?? 'one-for-one';
  if (!STRATEGIES.includes(strategy)) throw invalid(`strategy must be one of ${STRATEGIES.join(', ')}`);
  const maxRestarts = spec.intensity?.maxRestarts ?? DEFAULT_MAX_RESTARTS;
  if (!Number.isSafeInteger(maxRestarts) || maxRestarts < 0) throw invalid('intensity.maxRestarts must be an integer ≥ 0');
  const periodMs = spec.intensity?.periodMs ?? DEFAULT_PERIOD_MS;
  if (typeof periodMs !== 'number' || !(periodMs > 0) || !Number.isFinite(periodMs)) throw invalid('intensity.periodMs must be a positive number');
  const children = (spec.children ?? []).map(normalizeChild);
  const ids = new Set<string>();
  for (const child of children) {
    if (ids.has(child.id)) throw new SupervisorError('duplicate-child', `two children have the id "${child.id}"`, { childId: child.id });
    ids.add(child.id);
  }
  return { strategy, maxRestarts, periodMs, children };
}
