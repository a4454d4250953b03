// The RemoteRouter port: how a runtime reaches processes on other nodes. The runtime owns the
// distribution protocol (signals.ts: send, call, reply, link, unlink, unlink-ack, exit,
// monitor, demonitor, down); a router only carries opaque signals between nodes and says when a node goes down.
// @foundation/channels satisfies it through the meta-package; `createTransportRouter` builds one
// over any transport with the shape of the transport port (testkit's simulated network too).
import { createConnectWait } from '@foundation/core';
import { NoConnectionError } from '../errors/no-connection-error';

/** What the runtime gives a router: the two things that arrive from other nodes. */
export interface RemoteReceiver {
  /** A signal from `fromNode`, as the transport delivered it; the runtime validates it. */
  signal(fromNode: string, payload: unknown): void;
  /**
   * `node` is unreachable: links to its processes break with `noconnection`, monitors fire
   * `down` with `noconnection`, calls to it fail. A later signal from the node is accepted again.
   * The `nodeDown` that ends one life (incarnation or session) of a node must come before any
   * signal from a later life: it ends everything held for the node, a later life's too.
   */
  nodeDown(node: string): void;
  /**
   * A signal `send` accepted for `node` (held while the connection to it came up) that the
   * transport then threw on (a payload it cannot encode, one too large): the runtime answers for
   * it as it would have had `send` thrown it, so that a call fails rather than waits.
   */
  unsent?(node: string, signal: unknown, error: unknown): void;
  /**
   * Signals `send` accepted for `node` (held while the connection to it came up) were dropped
   * unsent: the transport refused the first of them (a full queue), and those after it go too,
   * so that none arrives after a gap. The runtime breaks the connection (`disconnect`).
   */
  lost?(node: string, signals: readonly unknown[]): void;
  /**
   * Signals `send` accepted for `node` (held while the connection to it came up) were dropped
   * unsent because the node went down, or could not be reached, first; `nodeDown` follows. The
   * runtime reports the messages among them as dead letters (calls, links and monitors are
   * answered by `nodeDown`).
   */
  dropped?(node: string, signals: readonly unknown[]): void;
}

export interface RemoteRouter {
  /**
   * Hands a signal (plain data) for the runtime on `node` to the transport. Returns false when it
   * cannot be accepted (the node is known to be down, a bounded queue is full); never throws for a
   * node that is down. Signals to one node must arrive in the order they were sent.
   */
  send(node: string, signal: unknown): boolean;
  /** Connects the runtime; returns a function that disconnects it. */
  subscribe(receiver: RemoteReceiver): () => void;
  /**
   * Asks the router to watch `node` for failure (connect, so a loss is reported by `nodeDown`).
   * The runtime calls it when a process links to or monitors a process there, and when a
   * process there links to or monitors one here.
   */
  watchNode?(node: string): void;
  /**
   * Breaks the connection to `node`, so that both nodes hear `nodeDown` for each other. The
   * runtime asks for it when a signal was lost on a connection that stays up (see RemoteBridge);
   * a router that has it must make a `nodeDown` follow, now or when the connection closes. A
   * runtime over a router without it can only report such a loss. When it throws, the runtime
   * reports that (`router-disconnect-failed`) and runs `nodeDown` for the node on its own side.
   */
  disconnect?(node: string): void;
}

/** A message as the transport port delivers it. */
export interface TransportInboundMessage {
  readonly from: string;
  readonly payload: unknown;
}

/**
 * The part of the transport port (docs/architecture.md) a router needs. As the port requires, a
 * `peer-down` that ends one life (incarnation or session) of a node is reported before any
 * message from a later life of that node is delivered; the router passes it on as `nodeDown`.
 */
export interface PeerTransport {
  readonly nodeId: string;
  send(peer: string, channel: string, payload: unknown): boolean;
  onMessage(channel: string, handler: (message: TransportInboundMessage) => void): () => void;
  on(event: 'peer-up' | 'peer-down', handler: (peer: string) => void): () => void;
  connect(peer: string): void;
  /** Closes the connection to `peer`; both sides hear `peer-down`. */
  disconnect(peer: string): void;
  peers(): string[];
}

export interface TransportRouterOptions {
  /** The channel process signals travel on. Default `process`. */
  readonly channel?: string;
  /**
   * Signals held per node while a connection to it comes up (a first send to a node this one
   * never talked to). Beyond it, `send` returns false and the runtime reports a dead letter.
   * Default 1,024.
   */
  readonly maxHeldPerNode?: number;
}

/**
 * A RemoteRouter over a transport: signals go on one channel, `peer-down` becomes `nodeDown`,
 * and watching a node connects to it so that its loss is detected. As on the BEAM, a node need
 * not be connected first: a signal for a node that is not connected is held (in order, up to a
 * bound), the node is connected, and the held signals go out when it comes up; if it goes down
 * instead, they are dropped, the runtime hears which (`dropped`), and then `nodeDown`.
 *
 * Signals go out only over a connection, also on a transport that would take them without one
 * (testkit's network delivers datagram-style): a signal sent without one is covered by no
 * `peer-down`. Sent while the node was unreachable, it was lost, and if the node then dialled
 * this one, no `peer-down` came either: a monitor or link made then never fired, and a call
 * waited for ever.
 */
export function createTransportRouter(transport: PeerTransport, options: TransportRouterOptions = {}): RemoteRouter {
  const channel = options.channel ?? 'process';
  /** Nodes we connected to (or saw come up) and have not seen go down since. */
  const watched = new Set<string>();
  // Asked of the transport at each signal, not kept from peer events: a connection that broke is
  // gone from `peers()` at once, its `peer-down` only after failure detection, and a signal sent
  // in between could reach a restarted node's new life and make there a link or monitor that
  // the old life's `peer-down` then ends on this side only.
  const connected = (node: string): boolean => node === transport.nodeId || transport.peers().includes(node);
  let receiver: RemoteReceiver | undefined;
  /** True while `send` runs: a throw of the transport then goes back to the runtime through it. */
  let sending = false;
  /**
   * What the transport threw for the signal being sent (one it cannot carry: channels' payload
   * encoding and size errors). `send` throws it on to the runtime, which reports that signal; in
   * the flush of held signals on `peer-up` the runtime hears of it through `unsent` instead, and
   * it must not cut the flush short, or every signal held after it would be lost with no
   * `peer-down` to say so.
   */
  let thrown: { readonly error: unknown } | undefined;
  const waiting = createConnectWait<unknown>({
    deliver: (node, signal) => {
      if (!connected(node)) return false;
      try {
        return transport.send(node, channel, signal);
      } catch (error) {
        if (sending) thrown = { error };
        else receiver?.unsent?.(node, signal, error);
        return true;
      }
    },
    // Connected (or this node) and still refused: a full queue or a closing transport.
    reachable: connected,
    lost: (node, signals) => receiver?.lost?.(node, signals),
    connect: (node) => {
      watched.add(node);
      try {
        transport.connect(node);
      } catch (error) {
        // A node it cannot even dial (testkit's network throws for one it does not know): no
        // peer-up or peer-down will come to flush or drop what would be held for it, so nothing
        // is; the throw reaches the runtime, which takes the signal as refused.
        watched.delete(node);
        waiting.down(node);
        throw new NoConnectionError(node, 'the transport cannot connect to it', error);
      }
    },
    maxHeldPerPeer: options.maxHeldPerNode ?? 1024,
  });
  /**
   * `node` went down, or will not be reached: what is held for it never goes out, and the runtime
   * hears which signals those were (the messages among them are dead letters), before `nodeDown`.
   */
  const drop = (node: string): void => {
    const signals = waiting.down(node);
    if (signals.length > 0) receiver?.dropped?.(node, signals);
  };
  const offUp = transport.on('peer-up', (peer) => {
    watched.add(peer);
    waiting.up(peer);
  });
  const offDownWatch = transport.on('peer-down', (peer) => {
    watched.delete(peer);
    drop(peer);
  });
  return {
    send(node, signal) {
      thrown = undefined;
      sending = true;
      let accepted: boolean;
      try {
        accepted = waiting.send(node, signal);
      } finally {
        sending = false;
      }
      // `deliver` may have set it (the compiler does not see the callback do so).
      const failure = thrown as { readonly error: unknown } | undefined;
      if (failure === undefined) return accepted;
      thrown = undefined;
      throw failure.error instanceof Error ? failure.error : new Error('the transport threw a non-error', { cause: failure.error });
    },
    subscribe(subscriber) {
      receiver = subscriber;
      const offMessage = transport.onMessage(channel, (message) => subscriber.signal(message.from, message.payload));
      const offDown = transport.on('peer-down', (peer) => subscriber.nodeDown(peer));
      return () => {
        if (receiver === subscriber) receiver = undefined;
        offMessage();
        offDown();
        offUp();
        offDownWatch();
      };
    },
    watchNode(node) {
      if (node === transport.nodeId || watched.has(node)) return;
      watched.add(node);
      transport.connect(node);
    },
    disconnect(node) {
      if (node === transport.nodeId) return;
      // Up: closing it brings `peer-down` to both sides, and so `nodeDown`.
      if (connected(node)) {
        transport.disconnect(node);
        return;
      }
      // Not up: whatever broke the last connection brings (or brought) its own `peer-down`; what
      // is held for the node never went out and goes now, and the runtime hears `nodeDown` at
      // once, as it would if the connection under way failed, so that nothing it took as sent
      // outlives that loss. A connection still under way comes up to a clean slate on both sides.
      drop(node);
      receiver?.nodeDown(node);
    },
  };
}
