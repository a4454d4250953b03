// What the dashboard shows, as one JSON snapshot a node serves at GET /api/dashboard: every
// node's status (node.clusterStatus(), asked over the control channel), the roster and the
// orchestrator's view of the processes, the registry's services with their health, the
// cluster config, and the recent `kv.written` events this node heard.
//
// The cluster status is gathered at most about once a second however many pages poll, and
// only while someone polls: an idle demo does not ask its nodes for anything.
import { Pid } from 'foundation';
import type { ClusterNodeStatus, FoundationNode, NodeStatus } from 'foundation';
import type { Lifecycle, NodeLaunch, RosterEntry } from '../protocol';
import { WRITTEN_EVENT } from './kv-worker';
import type { WrittenEvent } from './kv-worker';

const REFRESH_MS = 800;
const STATUS_TIMEOUT_MS = 900;
const EVENTS_KEPT = 60;

export interface FeedEvent {
  readonly id: string;
  readonly type: string;
  readonly wallTime: number;
  readonly from: string;
  readonly correlationId: string;
  readonly data: WrittenEvent;
}

export interface ServiceView {
  readonly name: string;
  readonly instances: readonly {
    readonly node: string;
    readonly target: string;
    readonly health: string;
    readonly load: number;
    readonly capabilities: readonly string[];
    readonly metadata: Readonly<Record<string, unknown>>;
  }[];
}

export interface NodeView extends RosterEntry {
  readonly state: 'up' | 'down';
  readonly status: NodeStatus | null;
  readonly error: string | null;
}

export interface DashboardSnapshot {
  readonly servedBy: RosterEntry;
  readonly at: number;
  /** When the node statuses were gathered. */
  readonly statusAt: number;
  readonly nodes: readonly NodeView[];
  readonly lifecycle: readonly Lifecycle[];
  readonly services: readonly ServiceView[];
  readonly events: readonly FeedEvent[];
  readonly config: unknown;
}

export interface DashboardFeed {
  snapshot(): Promise<DashboardSnapshot>;
  events(): readonly FeedEvent[];
  services(): ServiceView[];
  setLifecycle(nodes: readonly Lifecycle[]): void;
  close(): void;
}

function targetText(target: unknown): string {
  if (typeof target === 'string') return target;
  if (Pid.is(target)) return target.toString();
  return JSON.stringify(target) ?? typeof target;
}

export function createDashboardFeed(node: FoundationNode, launch: NodeLaunch): DashboardFeed {
  const self = launch.roster.find((entry) => entry.id === node.id)!;
  const recent: FeedEvent[] = [];
  let lifecycle: readonly Lifecycle[] = [];
  let gathered: { at: number; cluster: ClusterNodeStatus[] } | null = null;
  let inFlight: Promise<{ at: number; cluster: ClusterNodeStatus[] }> | null = null;

  const unsubscribe = node.events.subscribeClusterWide({ type: WRITTEN_EVENT }, (event) => {
    recent.unshift({ id: `${event.node}#${event.id}`, type: event.type, wallTime: event.wallTime, from: event.node, correlationId: event.correlationId, data: event.data as WrittenEvent });
    if (recent.length > EVENTS_KEPT) recent.length = EVENTS_KEPT;
  });

  const gather = (): Promise<{ at: number; cluster: ClusterNodeStatus[] }> => {
    inFlight ??= node
      .clusterStatus({ timeoutMs: STATUS_TIMEOUT_MS })
      .then((cluster) => {
        gathered = { at: Date.now(), cluster };
        return gathered;
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };

  const services = (): ServiceView[] =>
    node.registry.listServices().map((name) => ({
      name,
      instances: node.registry.discover({ name, health: 'any' }).map((instance) => ({
        node: instance.node,
        target: targetText(instance.target),
        health: instance.health,
        load: instance.load,
        capabilities: instance.capabilities,
        metadata: instance.metadata,
      })),
    }));

  return {
    async snapshot() {
      const now = Date.now();
      let current = gathered;
      if (current === null || now - current.at > 3 * REFRESH_MS) current = await gather();
      else if (now - current.at > REFRESH_MS) void gather().catch(() => undefined);
      const answers = new Map(current.cluster.map((entry) => [entry.node, entry]));
      const nodes = launch.roster.map((entry): NodeView => {
        const answer = answers.get(entry.id);
        if (answer !== undefined && 'status' in answer) return { ...entry, state: 'up', status: answer.status, error: null };
        return { ...entry, state: 'down', status: null, error: answer === undefined ? 'not a member (as far as this node knows)' : answer.error };
      });
      return { servedBy: self, at: now, statusAt: current.at, nodes, lifecycle, services: services(), events: recent, config: node.config.get() };
    },
    events: () => recent,
    services,
    setLifecycle(nodes) {
      lifecycle = nodes;
    },
    close: unsubscribe,
  };
}
