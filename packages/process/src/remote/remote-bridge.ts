// The runtime's side of distribution: turns sends, calls, links, monitors and exits that involve
// pids on other nodes into signals for the RemoteRouter, acts on signals that arrive, and turns
// a node-down notification into `noconnection` exits, downs and call failures. Every inbound
// signal is validated (signals.ts); one that does not validate is dropped and reported, never
// thrown back into the transport. The links and monitors other nodes make this node hold are
// bounded (RemoteLimits, counted in remote-holdings.ts): past a bound one is refused with
// `system_limit`.
//
// Links follow OTP 23.3's link protocol (erts 11.2, "New Link Protocol" in the Erlang
// distribution protocol: UNLINK_ID and UNLINK_ID_ACK), so that links and unlinks that cross on
// the wire end in a state both sides agree on. An unlink carries an id, and the unlinking side
// keeps the link in an unlinking state (gone for the process, still held and counted) until the
// ack with that id comes back; the receiver of an unlink removes its active link and always
// acks. A link made again before the ack makes the link active again at once (the ack of the
// earlier unlink then finds no unlinking state and is ignored); a link from the other node that
// arrives while unlinking is ignored (it was sent before that node took the unlink, which ends
// its side too); an exit signal from a link being unlinked is dropped, and the entry with it;
// a node going down ends unlinking states without exit signals. Runtimes exchange no hello, so
// a runtime learns whether a node speaks this protocol by calling the name
// CAPABILITY_PROBE_NAME there, once per life of that node, when a link with it is first made
// (by either side), stating its own capabilities: a runtime of this version answers with its
// capabilities, one of an earlier version with `noproc`. Only a probe's statement tells the node
// called that the caller speaks the protocol, not any call to the name. With a node of the
// earlier version, and before the answer comes, an unlink is as it was (the link goes at once,
// nothing is acked), except that an unlink sent while the answer was awaited carries an id and
// is held until the answer: acked by a node of this version, and dropped when the answer says
// the node is of the earlier one. A probe unanswered in CAPABILITY_PROBE_TIMEOUT_MS counts as
// that answer (an earlier runtime with a process registered under the name may never answer;
// plain unlinks are safe with either version), until an answer that says otherwise comes after
// all (see `probeTimedOut`).
//
// Distributed Erlang delivers every signal on a connection, or breaks the connection (and then
// both nodes see `noconnection` for all they shared); a signal is never lost while it stays up.
// A transport can refuse one (a full queue) or throw on it (one too large) and stay up, so the
// signals whose loss nothing else would reveal (an exit, a `down`, a call's reply, an unlink, a
// demonitor: the process on the other node would stay linked to a process that is gone or that
// let go of the link, keep a monitor that never fires or one nobody holds, wait for ever for its
// reply) break the connection when they are lost, as do signals dropped while the connection
// came up. Retrying until delivered was the other way: it would
// have to hold back every later signal to that node behind the refused one (signals to a node
// arrive in order), without bound and without a signal that there is room again, and a throw
// would never go. From the loss until the node's `nodeDown`, every signal for it is refused,
// as it would be for a node that is down, so none arrives after the gap. (A router without
// `disconnect` cannot break a connection: the loss is only reported. One whose `disconnect`
// throws is reported too, and this side runs the node's `nodeDown` itself, so that nothing it
// shares with that node waits here for ever; the other node hears nothing until it sees this one
// go down.) Other refusals stay
// where the runtime already reports them: a message as a dead letter, a link or a monitor as
// `noconnection` to its asker, a call as failed.
import { FoundationError } from '@foundation/core';
import type { Timer } from '@foundation/core';
import { Pid, isValidNodeId } from '../core/pid';
import { isPlainRecord } from '../core/plain-record';
import { CAPABILITY_PROBE_NAME, capabilityStatement, decodeSignal, encodeSignal, statesUnlinkId } from '../core/signals';
import type { RemoteTarget, Signal } from '../core/signals';
import { MalformedSignalError } from '../errors/malformed-signal-error';
import { NoConnectionError } from '../errors/no-connection-error';
import { NoProcessError } from '../errors/no-process-error';
import type { DeadLetterReason, ResolvedRemoteLimits } from '../runtime/options';
import type { ProcessRecord } from '../runtime/process-record';
import type { RuntimeImpl } from '../runtime/runtime';
import { downMessage } from '../runtime/system-messages';
import type { ExitReason, MonitorRef } from '../runtime/types';
import { callNotSent, messageNotSent } from './call-not-sent';
import { RemoteHoldings } from './remote-holdings';
import type { LimitScope } from './remote-holdings';
import type { RemoteRouter } from './router';

/**
 * The reason a link or monitor refused by a RemoteLimits bound reports, to the process that
 * asked for it: the BEAM's reason for a system limit reached. A refused link must not look
 * accepted (its side would count on an exit signal that never comes), so the asker hears what
 * it would hear if the other process were gone: an exit signal, or a `down`.
 */
export const SYSTEM_LIMIT = 'system_limit';

/**
 * How long a capability probe waits for its answer before the node is taken for one of the
 * earlier version (its unlinks plain, nothing held for an ack). 7 s, as OTP's `net_setuptime`
 * bounds the distribution handshake in which OTP learns what a node speaks.
 */
export const CAPABILITY_PROBE_TIMEOUT_MS = 7_000;

/** What a node speaks of the link protocol: being asked (its probe is out), with unlink ids, or without. */
type LinkProtocol = 'probing' | 'unlink-id' | 'plain';

export class RemoteBridge {
  private readonly unsubscribe: () => void;
  /** Local processes linked to processes on a node. */
  private readonly linksByNode = new Map<string, Set<ProcessRecord>>();
  /** Local processes monitoring processes on a node. */
  private readonly monitorsByNode = new Map<string, Set<ProcessRecord>>();
  /** Local processes monitored by processes on a node. */
  private readonly watchedByNode = new Map<string, Set<ProcessRecord>>();
  /** The nodes each local process is indexed under, so its exit cleans exactly those entries. */
  private readonly nodesOf = new WeakMap<ProcessRecord, Set<string>>();
  /** Remote links and monitors, counted against the RemoteLimits bounds. */
  readonly holdings: RemoteHoldings;
  malformed = 0;
  /** Links and monitors refused because a RemoteLimits bound was reached. */
  limitRefusals = 0;
  /** Nodes whose connection is being broken after a lost signal, until their `nodeDown`. */
  private readonly breaking = new Set<string>();
  /** What each node speaks of the link protocol, for its current life (see the head of this file). */
  private readonly protocols = new Map<string, LinkProtocol>();
  /**
   * Capability probes waiting for their answer, by call reference: the node called and the
   * probe's deadline, undefined once it has passed (the answer is still taken until the node goes
   * down; one per life of a node, as probes are).
   */
  private readonly probes = new Map<number, { readonly node: string; timer: Timer | undefined }>();
  /** The id of the last unlink sent (ids need only differ between unlinks of one link). */
  private unlinkIds = 0;
  /**
   * The current life of each node a call came from since it last went down, numbered across all
   * nodes (`lastLife`): a reply goes only to the life its call came from (see `sendReply`).
   * Forgotten when the node goes down, so held only for nodes that are up: kept for every node
   * ever reported down, it grew by one entry per node id (an address dialled in vain too) for as
   * long as this node ran.
   */
  private readonly lives = new Map<string, number>();
  private lastLife = 0;

  constructor(
    private readonly runtime: RuntimeImpl,
    private readonly router: RemoteRouter,
    limits: ResolvedRemoteLimits,
  ) {
    this.holdings = new RemoteHoldings(limits);
    this.unsubscribe = router.subscribe({
      signal: (fromNode, payload) => this.receive(fromNode, payload),
      nodeDown: (node) => this.nodeDown(node),
      unsent: (node, signal, error) => this.unsent(node, signal, error),
      lost: (node, signals) => {
        this.droppedMessages(node, signals);
        this.lose(node, signals.length, 'refused as the connection came up');
      },
      dropped: (node, signals) => this.droppedMessages(node, signals),
    });
  }

  close(): void {
    this.unsubscribe();
    for (const { timer } of this.probes.values()) timer?.cancel();
    this.probes.clear();
  }

  private index(index: Map<string, Set<ProcessRecord>>, node: string, record: ProcessRecord): void {
    let set = index.get(node);
    if (set === undefined) {
      set = new Set();
      index.set(node, set);
    }
    set.add(record);
    let nodes = this.nodesOf.get(record);
    if (nodes === undefined) {
      nodes = new Set();
      this.nodesOf.set(record, nodes);
    }
    nodes.add(node);
  }

  private post(node: string, signal: Signal): boolean {
    return this.offer(node, signal) === true;
  }

  /**
   * Hands a signal to the router: true when it is accepted, false when it is refused (the node
   * is down, a queue is full), and what was thrown when the router or the transport threw (a
   * signal it cannot carry: a payload it cannot encode, or one too large).
   */
  private offer(node: string, signal: Signal): boolean | { readonly thrown: unknown } {
    if (this.breaking.has(node)) return false;
    try {
      return this.router.send(node, encodeSignal(signal));
    } catch (error) {
      this.runtime.emit(['foundation', 'process', 'router-send-failed'], { count: 1 }, { node, error });
      return { thrown: error };
    }
  }

  /** Hands the router a signal whose loss nothing else would reveal; lost, it breaks the connection. */
  private postOrBreak(node: string, signal: Signal): void {
    const outcome = this.offer(node, signal);
    if (outcome === true) return;
    this.lose(node, 1, outcome === false ? 'refused' : outcome.thrown);
  }

  /**
   * `count` signals for `node` were lost on a connection that stays up: reported, and the
   * connection is broken so that both nodes hear `nodeDown` (see the head of this file). Done
   * once the work under way is over, not from inside it: a transport may report `peer-down` at
   * once, and a `nodeDown` in the middle of an exit would end what the exit is still sending.
   */
  private lose(node: string, count: number, cause: unknown): void {
    this.runtime.emit(['foundation', 'process', 'signal-lost'], { count }, { node, cause });
    if (this.router.disconnect === undefined || this.breaking.has(node)) return;
    this.breaking.add(node);
    this.runtime.soon(() => {
      if (!this.breaking.has(node)) return;
      try {
        this.router.disconnect?.(node);
      } catch (error) {
        this.runtime.emit(['foundation', 'process', 'router-disconnect-failed'], { count: 1 }, { node, error });
        this.nodeDown(node);
      }
    });
  }

  private watch(node: string): void {
    try {
      this.router.watchNode?.(node);
    } catch (error) {
      this.runtime.emit(['foundation', 'process', 'router-watch-failed'], { count: 1 }, { node, error });
    }
  }

  // ---- outbound -----------------------------------------------------------------------------

  /**
   * Sends a message: undefined when the router accepted it, otherwise the reason its dead letter
   * gives (`noconnection` when refused, `uncloneable` for one the transport cannot encode).
   */
  sendMessage(node: string, to: RemoteTarget, body: unknown, from: Pid | undefined, cast: boolean): DeadLetterReason | undefined {
    const outcome = this.offer(node, { type: 'send', to, from, body, cast });
    if (outcome === true) return undefined;
    return outcome === false ? 'noconnection' : messageNotSent(outcome.thrown);
  }

  /**
   * Sends a call request: true when the router accepted it, false when it refused it, and what
   * was thrown when the router or the transport threw (a request it cannot encode, say).
   */
  sendCall(node: string, to: RemoteTarget, ref: number, body: unknown): boolean | { readonly thrown: unknown } {
    // As a link or a monitor does (and gen:call monitors its callee): the node's going down
    // must reach the router, or a call without a timeout to a node that dies never settles.
    this.watch(node);
    return this.offer(node, { type: 'call', to, ref, body });
  }

  /** The current life of `node`, for a call that came from it now: it changes when the node goes down. */
  lifeOf(node: string): number {
    let life = this.lives.get(node);
    if (life === undefined) {
      life = ++this.lastLife;
      this.lives.set(node, life);
    }
    return life;
  }

  /**
   * Answers a call that came from `node` in its life `life` (undefined: the current one). The
   * answer to a call of an earlier life is dropped, as on the BEAM, where it is addressed to a
   * process of the old creation: a reply is matched by its reference alone, and a restarted
   * node's references meet those of its earlier life once that life made 2^20 calls (ref.ts), so
   * it could settle a call of the new life with the answer to an old one.
   */
  sendReply(node: string, ref: number, ok: boolean, value: unknown, life?: number): void {
    if (life !== undefined && life !== this.lives.get(node)) return;
    if (ok) {
      const outcome = this.offer(node, { type: 'reply', ref, ok: true, body: value });
      if (outcome === true) return;
      if (outcome === false) {
        this.lose(node, 1, 'refused');
        return;
      }
      // A reply the transport cannot carry fails the call with the transport's error (as one that
      // cannot be copied to a worker thread does), or its caller would wait for its timeout, or
      // for ever without one.
      value = outcome.thrown;
    }
    this.postOrBreak(node, { type: 'reply', ref, ok: false, error: FoundationError.from(value) });
  }

  sendExit(from: Pid, to: Pid, reason: unknown, link: boolean): void {
    this.postOrBreak(to.node, { type: 'exit', from, to, reason, link });
  }

  sendDown(watcher: Pid, ref: MonitorRef, pid: Pid, reason: unknown): void {
    this.postOrBreak(watcher.node, { type: 'down', to: watcher, ref, pid, reason });
  }

  /** Counts and reports a link or monitor refused by a RemoteLimits bound. */
  private limitReached(kind: 'link' | 'monitor', scope: LimitScope, local: Pid, remote: Pid): void {
    this.limitRefusals += 1;
    this.runtime.emit(['foundation', 'process', 'remote-limit'], { count: 1 }, { kind, scope, pid: local, remote, node: remote.node });
  }

  /**
   * Asks `node` what it speaks of the link protocol, unless that is known or being asked for this
   * life of it. Not sent (the node cannot be reached): asked again at the next link.
   */
  private probe(node: string): void {
    if (this.protocols.has(node)) return;
    const ref = this.runtime.calls.reserveRef();
    if (!this.post(node, { type: 'call', to: { name: CAPABILITY_PROBE_NAME, node }, ref, body: capabilityStatement() })) return;
    this.protocols.set(node, 'probing');
    const timer = this.runtime.clock.setTimer(CAPABILITY_PROBE_TIMEOUT_MS, () => this.probeTimedOut(ref));
    this.probes.set(ref, { node, timer });
  }

  /** The probe under `ref` has no answer and will have none (or it comes too late to wait for). */
  private endProbe(ref: number): string | undefined {
    const probe = this.probes.get(ref);
    if (probe === undefined) return undefined;
    this.probes.delete(ref);
    probe.timer?.cancel();
    return probe.node;
  }

  /**
   * A probe unanswered in time: a runtime of this version answers at once, one of the earlier
   * version answers `noproc` at once, unless a process is registered there under the probe's
   * name (which may never answer). Taken for the earlier version, which is safe with either:
   * plain unlinks, and the unlinks held for the answer let go (acks that come later end nothing).
   *
   * The answer is still awaited: a node of this version that was slow to answer (its own probe,
   * which goes before its answer, came too late to tell this side either) is spoken to with
   * unlink ids from then on (`probed`). Safe in the middle of a link's life: with a node taken for
   * the earlier version nothing is held (its plain unlinks went at once), so only unlinks sent
   * from then on carry ids; each is held until the ack of its own id, which that node, having
   * answered, sends; and the node takes every plain unlink sent before, since signals to it arrive
   * in order. An answer that says the earlier version changes nothing, for the same reason.
   */
  private probeTimedOut(ref: number): void {
    const probe = this.probes.get(ref);
    if (probe === undefined) return;
    const node = probe.node;
    if (this.protocols.get(node) !== 'probing') {
      this.endProbe(ref);
      return;
    }
    probe.timer = undefined;
    this.runtime.emit(['foundation', 'process', 'capability-probe-timeout'], { count: 1 }, { node });
    this.probed(node, false);
  }

  /** The answer to a capability probe of `node`. */
  private probed(node: string, unlinkIds: boolean): void {
    if (unlinkIds) {
      this.protocols.set(node, 'unlink-id');
      return;
    }
    this.protocols.set(node, 'plain');
    // Unlinks sent while the probe was out carried ids that node ignores: it took them as plain
    // unlinks and acks none, so their links are gone now, as they would have been at once.
    for (const record of this.linksByNode.get(node) ?? []) {
      for (const { pid } of [...(record.remoteUnlinking?.values() ?? [])]) if (pid.node === node) this.holdings.endUnlinking(record, pid);
    }
  }

  link(record: ProcessRecord, pid: Pid): void {
    const holdings = this.holdings;
    if (holdings.hasLink(record, pid)) return;
    if (holdings.unlinkingId(record, pid) !== undefined) {
      // Linked again before the ack of its unlink: active again at once, and the link signal
      // goes as for a new link (the other side took, or will take, the unlink first).
      holdings.relink(record, pid);
    } else {
      // The table is one for both directions, so a local link counts and is bounded too: the
      // process gets the exit signal a link to a process that cannot be reached would give it.
      const scope = holdings.linkLimit(record, pid);
      if (scope !== undefined) {
        this.limitReached('link', scope, record.pid, pid);
        this.runtime.links.queueExitSignal(record, pid, SYSTEM_LIMIT, true);
        this.runtime.links.drainExitSignals();
        return;
      }
      holdings.addLink(record, pid);
    }
    this.index(this.linksByNode, pid.node, record);
    this.watch(pid.node);
    if (!this.post(pid.node, { type: 'link', from: record.pid, to: pid })) {
      holdings.removeLink(record, pid);
      this.runtime.links.queueExitSignal(record, pid, 'noconnection', true);
      this.runtime.links.drainExitSignals();
      return;
    }
    // After the link, so that the probe never takes the room the link needs (the last signal the
    // router holds for a node still connecting, the last place in a queue). It still goes before
    // any unlink of this link, which is all its order matters for (see the head of this file).
    this.probe(pid.node);
  }

  unlink(record: ProcessRecord, pid: Pid): void {
    const holdings = this.holdings;
    if (!holdings.hasLink(record, pid)) return;
    const node = pid.node;
    const protocol = this.protocols.get(node);
    if (protocol === undefined || protocol === 'plain') {
      holdings.removeLink(record, pid);
      this.postOrBreak(node, { type: 'unlink', from: record.pid, to: pid });
      return;
    }
    this.unlinkIds += 1;
    const id = this.unlinkIds;
    holdings.startUnlinking(record, pid, id);
    const outcome = this.offer(node, { type: 'unlink', from: record.pid, to: pid, id });
    if (outcome === true) return;
    // No ack will come for an unlink that never went: the link is gone now (and the connection
    // is broken, so the other side's goes too).
    holdings.endUnlinking(record, pid, id);
    this.lose(node, 1, outcome === false ? 'refused' : outcome.thrown);
  }

  monitor(watcher: ProcessRecord, pid: Pid, ref: MonitorRef): void {
    this.index(this.monitorsByNode, pid.node, watcher);
    this.watch(pid.node);
    if (!this.post(pid.node, { type: 'monitor', from: watcher.pid, to: pid, ref })) {
      watcher.monitorsOut?.delete(ref);
      this.runtime.enqueueSystem(watcher, downMessage(ref, pid, 'noconnection'));
    }
  }

  demonitor(watcher: ProcessRecord, pid: Pid, ref: MonitorRef): void {
    this.postOrBreak(pid.node, { type: 'demonitor', from: watcher.pid, to: pid, ref });
  }

  /** A process is exiting: what it held for other nodes no longer counts (its exit sends the exits and downs). */
  release(record: ProcessRecord): void {
    this.holdings.release(record);
  }

  /** A process is gone (its exits, downs and demonitors were already sent): drop it from the indexes. */
  forget(record: ProcessRecord): void {
    const nodes = this.nodesOf.get(record);
    if (nodes === undefined) return;
    this.nodesOf.delete(record);
    for (const node of nodes) {
      for (const index of [this.linksByNode, this.monitorsByNode, this.watchedByNode]) {
        const set = index.get(node);
        if (set === undefined) continue;
        set.delete(record);
        if (set.size === 0) index.delete(node);
      }
    }
  }

  /**
   * The transport threw on a signal the router had held for `node` while the connection came up
   * (it accepted it, so the runtime took it as sent): answered here as a throw from `send` is.
   */
  private unsent(node: string, signal: unknown, error: unknown): void {
    this.runtime.emit(['foundation', 'process', 'router-send-failed'], { count: 1 }, { node, error });
    if (!isPlainRecord(signal)) return;
    const type = signal['t'];
    const ref = signal['ref'];
    const probe = type === 'call' && typeof ref === 'number' ? this.probes.get(ref) : undefined;
    if (probe?.node === node && probe.timer !== undefined) {
      // A capability probe that never went, in its time: no answer will come. Breaking the
      // connection starts the node's next life afresh, probed again. (One whose time ran out has
      // the node taken for the earlier version already, which is safe.)
      this.endProbe(ref as number);
      this.lose(node, 1, error);
    } else if (type === 'call' && typeof ref === 'number') {
      const call = this.runtime.calls.remote.get(ref);
      if (call !== undefined && call.remoteNode === node) this.runtime.failCall(call, callNotSent(call, node, error));
    } else if (type === 'send' || type === 'cast') {
      this.heldMessageDropped(node, signal, messageNotSent(error));
    } else {
      // A link, monitor or their ends taken as made, or an exit, down or reply: only breaking
      // the connection tells the other node.
      this.lose(node, 1, error);
    }
  }

  /**
   * Signals held for `node` that the router dropped unsent (the transport refused them as the
   * connection came up, or the node went down first): the messages among them are dead letters,
   * `noconnection`, as they would have been had `send` refused them. The rest are answered by
   * the broken connection or `nodeDown`: calls fail, links break, monitors fire.
   */
  private droppedMessages(node: string, signals: readonly unknown[]): void {
    for (const signal of signals) {
      if (isPlainRecord(signal) && (signal['t'] === 'send' || signal['t'] === 'cast')) this.heldMessageDropped(node, signal, 'noconnection');
    }
  }

  /** A message held for `node` that never went out: a dead letter, as had `send` refused or thrown it. */
  private heldMessageDropped(node: string, signal: Record<string, unknown>, reason: DeadLetterReason): void {
    let decoded: Signal | undefined;
    try {
      // The bridge encoded it, as this node to `node`: decoding it so gives back the message.
      decoded = decodeSignal(signal, this.runtime.nodeId, node);
    } catch {
      decoded = undefined;
    }
    if (decoded?.type === 'send') {
      const label = 'name' in decoded.to ? `${decoded.to.name}@${node}` : decoded.to.toString();
      this.runtime.deadLetter(label, decoded.body, reason, decoded.from);
    } else {
      // A body holding what reads as a malformed pid tag (`{ $pid: 'x' }`) is sent as it is but
      // does not decode: reported as the router held it.
      const to = signal['to'];
      const label = isPlainRecord(to) ? `${String(to['name'])}@${node}` : String(to);
      this.runtime.deadLetter(label, signal['body'], reason, undefined);
    }
  }

  // ---- inbound ------------------------------------------------------------------------------

  private receive(fromNode: string, payload: unknown): void {
    let signal: Signal;
    try {
      if (!isValidNodeId(fromNode)) throw new MalformedSignalError(String(fromNode).slice(0, 300), 'the sending node id is not valid');
      if (fromNode === this.runtime.nodeId) throw new MalformedSignalError(fromNode, 'a signal that claims to come from this node');
      signal = decodeSignal(payload, fromNode, this.runtime.nodeId);
    } catch (error) {
      this.reject(fromNode, error);
      return;
    }
    try {
      this.apply(fromNode, signal);
    } catch (error) {
      this.reject(fromNode, error);
    }
  }

  private reject(fromNode: string, error: unknown): void {
    this.malformed += 1;
    this.runtime.emit(['foundation', 'process', 'malformed-signal'], { count: 1 }, { fromNode: String(fromNode).slice(0, 300), error });
  }

  private local(pid: Pid, fromNode: string): ProcessRecord | undefined {
    if (pid.node !== this.runtime.nodeId) throw new MalformedSignalError(fromNode, `a signal for ${pid.toString()} reached node ${this.runtime.nodeId}`);
    return this.runtime.lookupLocal(pid);
  }

  private apply(fromNode: string, signal: Signal): void {
    const runtime = this.runtime;
    switch (signal.type) {
      case 'send': {
        const target = 'name' in signal.to ? runtime.lookupLocal(signal.to) : this.local(signal.to, fromNode);
        const label = 'name' in signal.to ? signal.to.name : signal.to.toString();
        if (target === undefined) runtime.deadLetter(label, signal.body, 'noproc', signal.from);
        else runtime.deliverInbound(target, signal.body, signal.cast);
        return;
      }
      case 'call': {
        if ('name' in signal.to && signal.to.name === CAPABILITY_PROBE_NAME) {
          // Answered whoever calls, but only a probe's statement says what the caller speaks: a
          // process on a runtime of the earlier version may call the name too, and a node taken
          // for this version is never probed, its unlinks held for acks that never come.
          if (statesUnlinkId(signal.body) && this.protocols.get(fromNode) !== 'plain') this.protocols.set(fromNode, 'unlink-id');
          this.sendReply(fromNode, signal.ref, true, capabilityStatement());
          return;
        }
        const target = 'name' in signal.to ? runtime.lookupLocal(signal.to) : this.local(signal.to, fromNode);
        if (target === undefined) {
          const label = 'name' in signal.to ? signal.to.name : signal.to.toString();
          this.sendReply(fromNode, signal.ref, false, new NoProcessError(label));
          return;
        }
        runtime.deliverInboundCall(target, signal.body, fromNode, signal.ref);
        return;
      }
      case 'reply': {
        const probe = this.probes.get(signal.ref);
        if (probe !== undefined) {
          if (probe.node !== fromNode) throw new MalformedSignalError(fromNode, 'a reply to a call made to another node');
          this.endProbe(signal.ref);
          this.probed(fromNode, signal.ok && statesUnlinkId(signal.body));
          return;
        }
        const call = runtime.calls.remote.get(signal.ref);
        // A late reply (its call timed out or its caller exited) is dropped. One from another
        // node than the one called is a spoof (call references count up from a known base, so
        // any node can name one), dropped and reported as malformed.
        if (call === undefined) return;
        if (call.remoteNode !== fromNode) throw new MalformedSignalError(fromNode, 'a reply to a call made to another node');
        if (signal.ok) runtime.completeCall(call, signal.body);
        else runtime.failCall(call, signal.error);
        return;
      }
      case 'link': {
        const target = this.local(signal.to, fromNode);
        if (target === undefined) {
          this.postOrBreak(fromNode, { type: 'exit', from: signal.to, to: signal.from, reason: 'noproc', link: true });
          return;
        }
        // A link that arrives while this side unlinks it is ignored (OTP): the other side sent it
        // before it took the unlink, and the unlink ends its side of the link too.
        if (this.holdings.unlinkingId(target, signal.from) !== undefined) return;
        if (!this.holdings.hasLink(target, signal.from)) {
          const scope = this.holdings.linkLimit(target, signal.from);
          if (scope !== undefined) {
            // Refused, and said so: the linker's side breaks the link as if this process were gone.
            this.limitReached('link', scope, target.pid, signal.from);
            this.postOrBreak(fromNode, { type: 'exit', from: signal.to, to: signal.from, reason: SYSTEM_LIMIT, link: true });
            return;
          }
          this.holdings.addLink(target, signal.from);
        }
        this.index(this.linksByNode, fromNode, target);
        // The link must break with `noconnection` if that node goes, whoever made it.
        this.watch(fromNode);
        this.probe(fromNode);
        return;
      }
      case 'unlink': {
        const target = this.local(signal.to, fromNode);
        // The active link goes; one this side is unlinking itself waits for its own ack.
        if (target !== undefined) this.holdings.removeLink(target, signal.from);
        if (signal.id === undefined) return;
        // An id is sent only by a runtime that speaks the protocol, and it is always acked, also
        // when there was no link or no process, or its sender would hold the link for ever.
        if (this.protocols.get(fromNode) !== 'plain') this.protocols.set(fromNode, 'unlink-id');
        this.postOrBreak(fromNode, { type: 'unlink-ack', from: signal.to, to: signal.from, id: signal.id });
        return;
      }
      case 'unlink-ack': {
        const target = this.local(signal.to, fromNode);
        // An ack of an earlier unlink (the link was made again since) ends nothing.
        if (target !== undefined) this.holdings.endUnlinking(target, signal.from, signal.id);
        return;
      }
      case 'exit': {
        const target = this.local(signal.to, fromNode);
        if (target === undefined) return;
        if (signal.link && !this.holdings.removeLink(target, signal.from)) {
          // From a link this process is unlinking: the link has no effect on it any more, and
          // its other end has exited, so no ack is needed to let go of it.
          this.holdings.endUnlinking(target, signal.from);
          return;
        }
        runtime.links.queueExitSignal(target, signal.from, signal.reason, signal.link);
        runtime.links.drainExitSignals();
        return;
      }
      case 'monitor': {
        const target = this.local(signal.to, fromNode);
        if (target === undefined) {
          this.postOrBreak(fromNode, { type: 'down', to: signal.from, ref: signal.ref, pid: signal.to, reason: 'noproc' });
          return;
        }
        // The reference is the sender's own (decodeSignal checks), and references of different
        // nodes never coincide (ref.ts), so one in use is the sender's own reused: a monitor may
        // never take over a reference in use by another watcher, or that watcher's `down` would
        // go to the sender.
        const existing = target.monitorsIn?.get(signal.ref);
        if (existing !== undefined) {
          if (Pid.is(existing) && existing.equals(signal.from)) return; // the same monitor again
          throw new MalformedSignalError(fromNode, 'a monitor reference that is already in use');
        }
        const scope = this.holdings.monitorLimit(target, fromNode);
        if (scope !== undefined) {
          // Refused, and said so: the watcher gets its down at once, as for a process that is gone.
          this.limitReached('monitor', scope, target.pid, signal.from);
          this.postOrBreak(fromNode, { type: 'down', to: signal.from, ref: signal.ref, pid: signal.to, reason: SYSTEM_LIMIT });
          return;
        }
        this.holdings.addMonitor(target, signal.ref, signal.from);
        this.index(this.watchedByNode, fromNode, target);
        // Its entry must go if that node goes, or it would keep its room for good.
        this.watch(fromNode);
        return;
      }
      case 'demonitor': {
        const target = this.local(signal.to, fromNode);
        const watcher = target?.monitorsIn?.get(signal.ref);
        if (watcher !== undefined && Pid.is(watcher) && watcher.equals(signal.from)) this.holdings.removeMonitor(target!, signal.ref);
        return;
      }
      case 'down': {
        const watcher = this.local(signal.to, fromNode);
        const watched = watcher?.monitorsOut?.get(signal.ref);
        if (watcher === undefined || watched === undefined || !watched.equals(signal.pid)) return;
        watcher.monitorsOut!.delete(signal.ref);
        runtime.enqueueSystem(watcher, downMessage(signal.ref, signal.pid, signal.reason as ExitReason));
        return;
      }
    }
  }

  /** `node` is gone: links break with `noconnection`, monitors fire, calls to it fail. */
  nodeDown(node: string): void {
    if (typeof node !== 'string' || node === this.runtime.nodeId) return;
    // Calls that came from the life that ended are answered no more (sendReply).
    this.lives.delete(node);
    this.breaking.delete(node);
    // The node's next life is probed afresh: it may run another version.
    this.protocols.delete(node);
    for (const [ref, probe] of [...this.probes]) if (probe.node === node) this.endProbe(ref);
    const runtime = this.runtime;
    const linked = this.linksByNode.get(node);
    this.linksByNode.delete(node);
    if (linked !== undefined) {
      for (const record of linked) {
        // Links being unlinked end without an exit signal: they no longer affect the process.
        for (const { pid } of [...(record.remoteUnlinking?.values() ?? [])]) if (pid.node === node) this.holdings.endUnlinking(record, pid);
        if (record.remoteLinks === null) continue;
        for (const pid of [...record.remoteLinks.values()]) {
          if (pid.node !== node) continue;
          this.holdings.removeLink(record, pid);
          runtime.links.queueExitSignal(record, pid, 'noconnection', true);
        }
      }
    }
    const watchers = this.monitorsByNode.get(node);
    this.monitorsByNode.delete(node);
    if (watchers !== undefined) {
      for (const watcher of watchers) {
        if (watcher.monitorsOut === null) continue;
        for (const [ref, pid] of [...watcher.monitorsOut]) {
          if (pid.node !== node) continue;
          watcher.monitorsOut.delete(ref);
          runtime.enqueueSystem(watcher, downMessage(ref, pid, 'noconnection'));
        }
      }
    }
    const watched = this.watchedByNode.get(node);
    this.watchedByNode.delete(node);
    if (watched !== undefined) {
      for (const target of watched) {
        if (target.monitorsIn === null) continue;
        for (const [ref, watcher] of [...target.monitorsIn]) {
          if (Pid.is(watcher) && watcher.node === node) this.holdings.removeMonitor(target, ref);
        }
      }
    }
    for (const call of [...runtime.calls.remote.values()]) {
      if (call.remoteNode === node) runtime.failCall(call, new NoConnectionError(node, 'the node went down'));
    }
    runtime.links.drainExitSignals();
  }
}
