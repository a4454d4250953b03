// Helpers shared by the tests: a runtime on testkit's simulated clock, and waiting for the
// event loop to settle (the run queue yields with setImmediate between slices).
import type { Scheduler, Timer } from '@foundation/core';
import { createSimulation } from '@foundation/testkit';
import type { Simulation } from '@foundation/testkit';
import type { Pid } from '../src/core/pid';
import { createRuntime } from '../src/runtime/runtime';
import type { Runtime } from '../src/runtime/runtime';
import type { RuntimeOptions } from '../src/runtime/options';
import type { MailboxOptions } from '../src/runtime/types';

export interface SimulatedRuntime {
  readonly simulation: Simulation;
  readonly runtime: Runtime;
}

/** A runtime whose clock (timeouts, restart windows, ages) is testkit's virtual time. */
export function simulatedRuntime(options: Partial<RuntimeOptions> & { readonly seed?: number } = {}): SimulatedRuntime {
  const { seed = 1, ...rest } = options;
  const simulation = createSimulation({ seed });
  const runtime = createRuntime({ nodeId: 'node-a', clock: simulation.clock, ...rest });
  return { simulation, runtime };
}

/** Lets microtasks and setImmediate callbacks run `rounds` times. */
export async function settle(rounds = 10): Promise<void> {
  for (let round = 0; round < rounds; round += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * How long `until` waits by default: generous for conditions in one thread, so that a loaded
 * machine does not fail a test, and under jest's 5 s test timeout (a run from the repository root
 * does not take the preset's), so that a failure names what it waited for.
 */
export const UNTIL_TIMEOUT_MS = 4_000;

const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `predicate` holds, checking it again after each event-loop turn at first and then
 * every few milliseconds; fails after `timeoutMs` of real time. The bound is a limit on waiting,
 * never an assertion about speed. An async predicate is awaited before it is asked again, so at
 * most one of its operations is in flight.
 */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  what = 'condition',
  timeoutMs = UNTIL_TIMEOUT_MS,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let check = 0; ; check += 1) {
    if (await predicate()) return;
    if (performance.now() >= deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
    // A handful of quick turns covers work that is only a few callbacks away; then poll.
    if (check < 20) await new Promise<void>((resolve) => setImmediate(resolve));
    else await sleep(2);
  }
}

/** A promise that settles later, with its resolver. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/**
 * A scheduler whose time moves only when told: `advance(ms)` from inside a handler stands for
 * CPU time spent there. Timers run in (time, order) with `step()` or `runAll()`; a test drives
 * the run queue through it to check slice budgets in time.
 */
export interface ManualScheduler extends Scheduler {
  advance(ms: number): void;
  /** Runs the next due timer (advancing time to it); false when none is left. */
  step(): boolean;
  pending(): number;
}

export function createManualScheduler(): ManualScheduler {
  let time = 0;
  let sequence = 0;
  const timers: { at: number; order: number; callback: () => void; cancelled: boolean }[] = [];
  const setTimer = (delayMs: number, callback: () => void): Timer => {
    const timer = { at: time + delayMs, order: sequence++, callback, cancelled: false };
    timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  };
  return {
    now: () => 1_700_000_000_000 + time,
    monotonic: () => time,
    setTimer,
    setRepeatingTimer: (intervalMs, callback) => {
      let current: Timer;
      const fire = (): void => {
        current = setTimer(intervalMs, fire);
        callback();
      };
      current = setTimer(intervalMs, fire);
      return { cancel: () => current.cancel() };
    },
    advance: (ms) => void (time += ms),
    step() {
      for (;;) {
        const live = timers.filter((timer) => !timer.cancelled);
        if (live.length === 0) return false;
        live.sort((a, b) => a.at - b.at || a.order - b.order);
        const next = live[0]!;
        timers.splice(timers.indexOf(next), 1);
        time = Math.max(time, next.at);
        next.callback();
        return true;
      }
    },
    pending: () => timers.filter((timer) => !timer.cancelled).length,
  };
}

/** The `self` API as the README documents it (plus `node`, which ProcessSelf declares). */
export const DOCUMENTED_SELF = [
  'call',
  'cast',
  'demonitor',
  'exit',
  'link',
  'monitor',
  'name',
  'node',
  'pid',
  'register',
  'reply',
  'send',
  'sendAfter',
  'sendAsync',
  'signal',
  'spawn',
  'state',
  'stop',
  'trapExits',
  'unlink',
  'unregister',
];

/** Every string-keyed property reachable on `value` through its prototype chain, but Object's own. */
export function reachable(value: object): string[] {
  const names = new Set<string>();
  for (let current: object | null = value; current !== null && current !== Object.prototype; current = Object.getPrototypeOf(current) as object | null) {
    for (const name of Object.getOwnPropertyNames(current)) if (name !== 'constructor') names.add(name);
  }
  return [...names].sort();
}

/**
 * A process on `runtime` that records every message it handles and is stuck in its first one
 * ('block', sent here) until `release` is called, so that what is sent meanwhile queues in its
 * mailbox (or waits at it, or overflows it).
 */
export function blockedProcess(runtime: Runtime, mailbox: MailboxOptions, options: { readonly trapExits?: boolean } = {}): { pid: Pid; handled: unknown[]; release: () => void } {
  const gate = deferred();
  const handled: unknown[] = [];
  const pid = runtime.spawn(
    async (message: unknown) => {
      handled.push(message);
      if (message === 'block') await gate.promise;
      return message;
    },
    { mailbox, trapExits: options.trapExits === true },
  );
  runtime.send(pid, 'block');
  return { pid, handled, release: () => gate.resolve() };
}

/**
 * What any code can build without the runtime: an object shaped like an `exit` or `down`
 * message, with the markers such messages carry under their public `Symbol.for` keys.
 */
export function lookalikeExit(from: Pid, reason: unknown): object {
  return Object.defineProperty({ type: 'exit', from, reason }, Symbol.for('@foundation/process/ExitMessage'), { value: true });
}

export function lookalikeDown(ref: string, pid: Pid, reason: unknown): object {
  return Object.defineProperty({ type: 'down', ref, pid, reason }, Symbol.for('@foundation/process/DownMessage'), { value: true });
}

const trap = (): never => {
  throw new Error('trap');
};

/** A proxy handler every operation of which throws. */
export const THROWING_TRAPS: ProxyHandler<object> = {
  get: trap,
  set: trap,
  has: trap,
  ownKeys: trap,
  getOwnPropertyDescriptor: trap,
  defineProperty: trap,
  deleteProperty: trap,
  getPrototypeOf: trap,
  setPrototypeOf: trap,
  isExtensible: trap,
  preventExtensions: trap,
};

/** Values that throw at the first touch: reading a property, `in`, `instanceof`, listing keys. */
export function hostileValues(): [string, object][] {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return [
    ['a proxy whose traps all throw', new Proxy({}, THROWING_TRAPS)],
    ['a revoked proxy', proxy],
    ['an object whose prototype is a proxy whose traps throw', Object.create(new Proxy({}, THROWING_TRAPS)) as object],
  ];
}
