// What the orchestrator (src/main.ts) and each node process (src/node/node-main.ts) say to each
// other over Node's IPC channel. Both sides check what they receive: a message that does not
// have the expected shape is ignored.

/** One node of the demo cluster, as every node and the dashboard know it. */
export interface RosterEntry {
  /** Short name: `alpha`, `beta`, ... */
  readonly name: string;
  /** Foundation node id, `name@127.0.0.1:port`. */
  readonly id: string;
  /** Where the node serves the HTTP API and the dashboard. */
  readonly httpUrl: string;
  /** Raft voter (true) or learner (false). */
  readonly voter: boolean;
}

/** What the orchestrator hands a node process (as JSON in argv[2]). */
export interface NodeLaunch {
  readonly name: string;
  readonly id: string;
  readonly httpPort: number;
  /** The cluster's secret travels in FOUNDATION_SECRET, not here: argv is visible to `ps`. */
  readonly dataDir: string;
  readonly roster: readonly RosterEntry[];
  /** How many kv-worker processes the node's supervisor runs. */
  readonly workers: number;
}

/** The orchestrator's view of a node's process: the dashboard shows it beside the cluster's own view. */
export interface Lifecycle {
  readonly name: string;
  readonly state: 'starting' | 'running' | 'killed' | 'restarting' | 'stopping' | 'stopped';
  /** Process id of the current process (none while down). */
  readonly pid: number | null;
  /** Times the node was started again after a kill or a crash. */
  readonly restarts: number;
  /** Wall-clock ms of the last kill, and when the restart is due. */
  readonly killedAt: number | null;
  readonly restartAt: number | null;
  /** Wall-clock ms until which the node is cut off from the others (the dashboard's partition button). */
  readonly partitionedUntil: number | null;
}

/** A node's answer to `probe`: what the orchestrator waits on before it says "ready". */
export interface Probe {
  readonly id: string;
  readonly leader: string | null;
  readonly role: string;
  readonly nodesVisible: number;
  readonly workersVisible: number;
  readonly learners: number;
}

export type ToNode =
  | { readonly type: 'stop' }
  /** First half of a stop: give up what needs the cluster's quorum (the traffic singleton's lease), stop serving HTTP. */
  | { readonly type: 'quiesce'; readonly requestId: number }
  /** Sets a config value cluster-wide through this node (`config.setClusterWide`). */
  | { readonly type: 'set-config'; readonly requestId: number; readonly path: string; readonly value: unknown }
  | { readonly type: 'probe'; readonly requestId: number }
  | { readonly type: 'lifecycle'; readonly nodes: readonly Lifecycle[] }
  /** The orchestrator's answer to a `kill-request` or `partition-request` from this node. */
  | { readonly type: 'action-result'; readonly requestId: number; readonly result: ActionResult };

/**
 * What the orchestrator made of a kill or partition request, so that the HTTP API can answer
 * with what happened rather than with "asked":
 * - `done`: applied; for a kill, the process has exited (`pid` was its process id);
 * - `accepted`: taken, and applied after this answer: a partition (every node closes its links
 *   as it hears of it), or a node's own kill (it could not answer after it);
 * - `refused`: nothing was done, and `reason` says why (not running, already cut off, stopping).
 * `process` is the node's lifecycle after the decision.
 */
export type ActionResult =
  | { readonly outcome: 'done' | 'accepted'; readonly pid: number | null; readonly process: Lifecycle }
  | { readonly outcome: 'refused'; readonly reason: string; readonly process: Lifecycle | null };

export type FromNode =
  | { readonly type: 'ready'; readonly id: string }
  | { readonly type: 'probe-result'; readonly requestId: number; readonly probe: Probe }
  | { readonly type: 'quiesced'; readonly requestId: number }
  | { readonly type: 'config-set'; readonly requestId: number; readonly error: string | null }
  | { readonly type: 'kill-request'; readonly requestId: number; readonly name: string }
  | { readonly type: 'partition-request'; readonly requestId: number; readonly name: string; readonly seconds: number }
  | { readonly type: 'fatal'; readonly message: string };

/** What the orchestrator reports to its own parent (a test, the screenshot script), when it has one. */
export interface DemoReady {
  readonly type: 'demo-ready';
  readonly dashboardUrl: string;
  readonly dataDir: string;
  readonly nodes: readonly RosterEntry[];
  readonly readyInMs: number;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
