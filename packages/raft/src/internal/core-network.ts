// A synchronous harness of RaftCore instances for tests and scenario scripts: every node has a
// MemoryStorage standing for its disk, messages wait in one FIFO queue until delivered, and
// links can be cut. Processing a node's Ready follows the driver's contract exactly: persist
// the hard state, entries and snapshot, then queue the messages, then apply, then advance.
import { createSeededRandom } from '@foundation/core';
import { MemoryStorage } from '../core/log-storage';
import { RaftCore } from '../core/raft';
import type { RaftCoreOptions, Ready } from '../core/raft';
import type { Entry, Message, NodeId, ReadState } from '../core/types';

export interface HarnessNode {
  readonly id: NodeId;
  core: RaftCore;
  readonly storage: MemoryStorage;
  /** Every entry applied, in order (the state machine's input). */
  readonly applied: Entry[];
  readonly readStates: ReadState[];
}

export type CoreOverrides = Partial<Omit<RaftCoreOptions, 'id' | 'storage' | 'hardState' | 'membership' | 'random'>>;

export class CoreNetwork {
  readonly nodes = new Map<NodeId, HarnessNode>();
  readonly queue: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly isolated = new Set<NodeId>();
  /** Every message ever delivered, for assertions about traffic. */
  readonly delivered: Message[] = [];

  constructor(
    ids: readonly NodeId[],
    private readonly overrides: CoreOverrides = {},
    private readonly seed = 1,
  ) {
    for (const id of ids) this.add(id, { voters: ids, learners: [] });
  }

  /** Adds a node that starts from `membership` (empty for one joining an existing cluster). */
  add(id: NodeId, membership: { voters: readonly NodeId[]; learners: readonly NodeId[] }): HarnessNode {
    const storage = new MemoryStorage(membership);
    const node: HarnessNode = { id, core: this.createCore(id, storage), storage, applied: [], readStates: [] };
    this.nodes.set(id, node);
    return node;
  }

  private createCore(id: NodeId, storage: MemoryStorage): RaftCore {
    return new RaftCore({
      id,
      storage,
      hardState: storage.hardState,
      membership: storage.snapshotMembership(),
      applied: storage.firstIndex() - 1,
      random: createSeededRandom(`${this.seed}/${id}`),
      ...this.overrides,
    });
  }

  node(id: NodeId): HarnessNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Restarts a node from its storage: everything not persisted is lost, applied state resets to the snapshot. */
  restart(id: NodeId): void {
    const node = this.node(id);
    node.applied.length = 0;
    node.readStates.length = 0;
    node.core = this.createCore(id, node.storage);
  }

  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}→${b}`);
    this.cut.add(`${b}→${a}`);
  }

  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  heal(): void {
    this.cut.clear();
    this.isolated.clear();
  }

  private deliverable(message: Message): boolean {
    if (this.isolated.has(message.from) || this.isolated.has(message.to)) return false;
    if (this.cut.has(`${message.from}→${message.to}`)) return false;
    return this.nodes.has(message.to);
  }

  tick(id: NodeId, times = 1): void {
    for (let count = 0; count < times; count += 1) this.node(id).core.tick();
  }

  /** Processes one node's Ready, as a driver would. Returns false when it had nothing. */
  processReady(id: NodeId): boolean {
    const node = this.node(id);
    if (!node.core.hasReady()) return false;
    const ready: Ready = node.core.ready();
    if (ready.hardState !== null) node.storage.hardState = ready.hardState;
    if (ready.snapshot !== null) node.storage.applySnapshot(ready.snapshot);
    node.storage.append(ready.entries);
    for (const message of ready.messages) this.queue.push(message);
    for (const entry of ready.committedEntries) node.applied.push(entry);
    for (const read of ready.readStates) node.readStates.push(read);
    node.core.advance(ready);
    return true;
  }

  /** Delivers the queued messages once (new ones produced meanwhile stay queued). */
  deliverAll(filter: (message: Message) => boolean = () => true): number {
    const batch = this.queue.splice(0);
    let delivered = 0;
    for (const message of batch) {
      if (!filter(message) || !this.deliverable(message)) continue;
      this.delivered.push(message);
      this.node(message.to).core.step(message);
      delivered += 1;
    }
    return delivered;
  }

  /** Runs until no node has work and no message is in flight. */
  stabilize(limit = 10_000): void {
    for (let round = 0; round < limit; round += 1) {
      let busy = false;
      for (const id of this.nodes.keys()) busy = this.processReady(id) || busy;
      if (this.queue.length > 0) {
        this.deliverAll();
        busy = true;
      }
      if (!busy) return;
    }
    throw new Error(`the network did not stabilize within ${limit} rounds`);
  }

  /** Makes `id` campaign and runs until the election settles. */
  elect(id: NodeId): void {
    this.node(id).core.campaign();
    this.stabilize();
  }

  propose(id: NodeId, text: string): ReturnType<RaftCore['propose']> {
    const result = this.node(id).core.propose(new TextEncoder().encode(text));
    return result;
  }

  leader(): NodeId | null {
    const leaders = [...this.nodes.values()].filter((node) => node.core.role === 'leader');
    if (leaders.length === 0) return null;
    const highest = Math.max(...leaders.map((node) => node.core.term));
    return leaders.find((node) => node.core.term === highest)!.id;
  }

  /** The commands a node has applied, as text (no-ops and membership entries left out). */
  appliedText(id: NodeId): string[] {
    const decoder = new TextDecoder();
    return this.node(id)
      .applied.filter((entry) => entry.kind === 'normal' && entry.data.byteLength > 0)
      .map((entry) => decoder.decode((entry as Extract<Entry, { kind: 'normal' }>).data));
  }
}
