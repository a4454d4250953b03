// One Foundation node as its own process inside a lab namespace, driven by the orchestrator over
// the IPC channel (a Unix socket pair, so the faults injected on the lab's network never touch
// it: the orchestrator plays a client sitting next to each node).
//
//   ip netns exec NS node --import tsx node-entry.ts '{"name":"n1@10.213.0.11:7000","host":…}'
//
// The parent sends { id, op, args } and receives { id, ok, value } or { id, ok: false, error };
// the node announces { event: 'ready', id, pid } once started.
import { FoundationError, startNode } from 'foundation';
import type { FoundationNode, StartNodeOptions } from 'foundation';
import { chaosConfigOptions } from './chaos-config';
import type { HarnessSettings } from './node-process';

interface Command {
  readonly id: number;
  readonly op: string;
  readonly args: readonly unknown[];
}

const send = (message: unknown): void => {
  if (process.connected) process.send?.(message);
};

// Without the orchestrator there is nobody to serve: leave at once (a paused node notices
// when it is continued).
process.on('disconnect', () => process.exit(0));

const options = JSON.parse(process.argv[2] ?? '{}') as StartNodeOptions;
const harness = JSON.parse(process.argv[3] ?? '{}') as HarnessSettings;
const started = Date.now();
let node: FoundationNode;
try {
  // The config holds a schema (code), so it is made here rather than passed in as JSON.
  // Snapshots often enough that restarted and lagging nodes install them in a run.
  node = await startNode({ ...options, config: chaosConfigOptions(), ...(harness.snapshotEvery === undefined ? {} : { snapshotEvery: harness.snapshotEvery }) });
} catch (error) {
  console.error(`[${options.name}] failed to start:`, error);
  send({ event: 'start-failed', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
console.log(`[${node.id}] started in ${Date.now() - started} ms (pid ${process.pid})`);

// A worker registered by capability, so the registry holds more than the node entries: its
// entries must vanish when this process is killed and return when it restarts.
const worker = node.runtime.spawn({ handleMessage: () => undefined });
const registration = node.registry.register('chaos.worker', worker, { mode: 'group', capabilities: ['chaos', `host-${options.host ?? 'unknown'}`] });

// Every change of leader, with the wall clock, in this node's log: the timeline a failing
// history is read against.
node.consensus.raft.on('leader-change', (change) => {
  console.log(`${new Date().toISOString()} [${node.id}] leader-change term ${change.term} leader ${change.leader ?? '(none)'} role ${change.role}`);
});

// Links to other nodes coming and going: a request in flight when its link drops fails with
// peerUnavailable whether or not the peer acted on it.
for (const event of ['peer-up', 'peer-down'] as const) {
  node.transport.on(event, (peer) => console.log(`${new Date().toISOString()} [${node.id}] ${event} ${peer}`));
}

/** Where this node's Raft stood when it answered: kept with the operation in the history. */
function position(): { term: number; leader: string | null; role: string; commit: number; applied: number } {
  const raft = node.consensus.raft.status();
  return { term: raft.term, leader: raft.leader, role: raft.role, commit: raft.commit, applied: raft.applied };
}

async function handle(command: Command): Promise<unknown> {
  const [a, b, c] = command.args;
  switch (command.op) {
    case 'put':
      return { result: (await node.kv.put(a as string, b)) ?? null, raft: position() };
    case 'cas':
      return { result: await node.kv.compareAndSet(a as string, b, c), raft: position() };
    case 'get':
      return { result: (await node.kv.get(a as string)) ?? null, raft: position() };
    case 'peers':
      return node.transport.peers();
    case 'members':
      return node.membership.members();
    case 'topology':
      return node.membership.topology().mode;
    case 'digest':
      return node.registry.digest();
    case 'workers':
      // This life's worker registration, and every worker this node's registry lists: what the
      // registry check compares across nodes (its id names the node's incarnation; null once gone).
      return { own: registration.instance()?.id ?? null, listed: node.registry.lookupAll('chaos.worker').map((instance) => instance.id) };
    case 'raft': {
      const raft = node.consensus.raft.status();
      return { role: raft.role, term: raft.term, leader: raft.leader, commit: raft.commit, applied: raft.applied };
    }
    case 'raft-stats':
      return node.consensus.raft.stats();
    case 'config':
      // This node's config as it holds it now (no consensus read): what the convergence check compares.
      return { config: node.config.get(), raft: position() };
    case 'config-set': {
      // The same check setClusterWide makes first, made here so that the answer tells a value
      // refused on this node (never proposed) from one refused where it was applied (an error).
      const check = node.config.checkUpdate(a as string, b);
      if (!check.ok) return { outcome: 'refused', code: FoundationError.is(check.error) ? check.error.code : undefined, message: check.error.message };
      await node.config.setClusterWide(a as string, b);
      return { outcome: 'ok', raft: position() };
    }
    case 'stop':
      await node.stop();
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

process.on('message', (message: Command) => {
  handle(message).then(
    (value) => send({ id: message.id, ok: true, value: value ?? null }),
    (error: unknown) =>
      send({
        id: message.id,
        ok: false,
        error: {
          message: error instanceof Error ? error.message : String(error),
          code: FoundationError.is(error) ? error.code : undefined,
          type: FoundationError.is(error) ? error.type : undefined,
        },
      }),
  );
});
send({ event: 'ready', id: node.id, pid: process.pid });
