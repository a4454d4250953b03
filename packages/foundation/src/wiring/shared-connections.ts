// One channels transport carries everything a node says: the membership's control traffic,
// Raft, process messages, the registry and control requests. A link to a peer is therefore
// shared, and `disconnect(peer)` on the transport ends it for every part at once (and stops the
// redialling any part asked for with `connect`). The membership closes links freely: idle ones it
// opened for a one-off exchange, and those of neighbours it dropped. Without this layer it would
// close a Raft leader's link to a learner, or to a voter it does not happen to have as a
// neighbour, and nothing would dial it again until the membership wanted that peer back.
//
// Each part gets a view of the transport whose connect and disconnect only state its own wish.
// A part letting go closes a link only when no other part uses it. The membership uses every link
// it has heard come up and not let go of, whoever dialled it: it keeps neighbours on links the
// peer dialled without ever calling connect, so its wishes alone do not say what it uses. The
// membership's view also hides from the membership a link it let go that another part still
// holds: the membership sees it go down (and come up again when it connects later), so its own
// bookkeeping of idle links stays exact while the link itself stays up for the others.
//
// A link the peer dialled is the peer's to close. The transport is asked to connect (and so to
// redial) only for links this side dials: a part wishing for a link the peer dialled and that is
// up asks nothing of it, since the transport's `disconnect`, the only way to withdraw that, would
// close the peer's link. Should the peer's link go down while a part still wishes for it, this
// side dials it then. So when the last part lets go of a link the peer dialled, nothing here
// redials it and the link stays up until the peer closes it. Which side dialled is told by
// whether this side had asked the transport for the link: when both dialled at once, or the peer
// dialled while this side waited to redial, this side counts the link as its own.
import type { Transport } from '@foundation/channels';

export interface OwnerOptions {
  /**
   * The wish ends when the link goes down (`peer-down`), as if the part had called `disconnect`:
   * for links made on demand, which the next message makes again. Without it, a link wished for
   * is redialled until the part lets it go, however long the peer stays away (one the peer
   * dialled is dialled from this side once it goes down).
   */
  readonly untilDown?: boolean;
}

export interface SharedConnections {
  /** A view for one part of the node: its `connect` and `disconnect` are that part's wish alone. */
  owner(name: string, base?: Transport, options?: OwnerOptions): Transport;
  /**
   * The membership's view (see the file comment). One per transport. The membership uses every
   * link it heard come up and has not let go of, whether or not it asked for it.
   */
  membership(base?: Transport): Transport;
  /** The parts that asked for a link to `peer` (`connect`) and have not let it go, sorted. */
  wantedBy(peer: string): string[];
  /**
   * Ends the link to `peer` for every part at once, whoever dialled it, as a link that failed
   * would end: the process runtime does so when a signal it sent was lost on a link that stays
   * up, so that both nodes hear `noconnection` (Distributed Erlang's connection, too, carries all
   * of a node pair's traffic). Parts that still wish for the link get it dialled again.
   */
  breakLink(peer: string): void;
}

const MEMBERSHIP = 'membership';

/**
 * `transport` is the transport itself; each view may sit on a wrapper of it (`base`), such as
 * the context-propagating one, so long as the wrapper passes connect and disconnect through.
 */
export function shareConnections(transport: Transport): SharedConnections {
  const wishes = new Map<string, Set<string>>();
  /** Peers this side asked the transport to connect (and redial), and has not disconnected since. */
  const asked = new Set<string>();
  /** Parts whose wish ends when the link goes down. */
  const untilDown = new Set<string>();
  /** Whether the membership uses its link to a peer (set by `membership()`). */
  let membershipUses = (_peer: string): boolean => false;

  const wanted = (peer: string): boolean => (wishes.get(peer)?.size ?? 0) > 0;
  const wish = (owner: string, peer: string, base: Transport): void => {
    let owners = wishes.get(peer);
    if (owners === undefined) {
      owners = new Set();
      wishes.set(peer, owners);
    }
    owners.add(owner);
    // Up and never asked for: the peer dialled it. It is not asked for until it goes down.
    if (!asked.has(peer) && transport.peers().includes(peer)) return;
    asked.add(peer);
    base.connect(peer);
  };
  const release = (owner: string, peer: string): void => {
    const owners = wishes.get(peer);
    owners?.delete(owner);
    if (owners?.size === 0) wishes.delete(peer);
  };
  /**
   * After a part let go: when no part uses the link any more and this side asked for it, it is
   * closed (or, down, no longer dialled). A link the peer dialled is left to the peer.
   */
  const settle = (peer: string, base: Transport): boolean => {
    if (wanted(peer) || membershipUses(peer) || !asked.delete(peer)) return false;
    base.disconnect(peer);
    return true;
  };

  /** Dials a link that is down, not asked for, and that a part wishes for. */
  const redialIfWanted = (peer: string): void => {
    if (!wanted(peer) || asked.has(peer) || transport.peers().includes(peer)) return;
    asked.add(peer);
    transport.connect(peer);
  };

  transport.on('peer-down', (peer) => {
    for (const name of untilDown) if (wishes.get(peer)?.has(name) === true) release(name, peer);
    if (wanted(peer)) {
      // The peer's link went down while a part here still wishes for it: this side dials it, once
      // the transport is done with the old link.
      if (asked.has(peer)) return;
      queueMicrotask(() => redialIfWanted(peer));
    } else if (asked.delete(peer)) {
      // Nobody wishes for it: not redialled. (The membership's use ended with the link.)
      transport.disconnect(peer);
    }
  });

  const owner = (name: string, base: Transport = transport, options: OwnerOptions = {}): Transport => {
    if (name === MEMBERSHIP) throw new Error('the membership has its own view: use membership()');
    if (options.untilDown === true) untilDown.add(name);
    const view = Object.create(base) as Transport;
    return Object.assign(view, {
      connect(peer: string): void {
        wish(name, peer, base);
      },
      disconnect(peer: string): void {
        // A part that never wished for the link lets go of nothing: the link may be one the peer
        // dialled, which the membership uses without a wish.
        if (wishes.get(peer)?.has(name) !== true) return;
        release(name, peer);
        settle(peer, base);
      },
    });
  };

  let membershipView: Transport | null = null;
  const membership = (base: Transport = transport): Transport => {
    if (membershipView !== null) throw new Error('one membership view per transport');
    /** Links that are up but that the membership let go of: down, as far as it knows. */
    const hidden = new Set<string>();
    const upHandlers = new Set<(peer: string) => void>();
    const downHandlers = new Set<(peer: string) => void>();
    /**
     * Every peer-up the membership hears is followed by one peer-down before the next peer-up.
     * The links it uses: heard up, and neither down nor let go since.
     */
    const shown = new Set<string>(base.peers());
    membershipUses = (peer) => shown.has(peer);
    const showUp = (peer: string): void => {
      if (shown.has(peer)) return;
      shown.add(peer);
      for (const handler of [...upHandlers]) handler(peer);
    };
    const showDown = (peer: string): void => {
      if (!shown.delete(peer)) return;
      for (const handler of [...downHandlers]) handler(peer);
    };
    base.on('peer-up', (peer) => {
      hidden.delete(peer);
      showUp(peer);
    });
    base.on('peer-down', (peer) => {
      hidden.delete(peer);
      showDown(peer);
    });

    const view = Object.create(base) as Transport;
    membershipView = Object.assign(view, {
      connect(peer: string): void {
        wish(MEMBERSHIP, peer, base);
        if (!hidden.delete(peer)) return;
        // Up all along: the membership hears so the way it would from the transport, later.
        queueMicrotask(() => {
          if (!hidden.has(peer) && base.peers().includes(peer)) showUp(peer);
        });
      },
      disconnect(peer: string): void {
        const asking = wishes.get(peer)?.has(MEMBERSHIP) ?? false;
        if (!asking && !shown.has(peer)) return;
        release(MEMBERSHIP, peer);
        const up = base.peers().includes(peer);
        // Hidden before it may close: the membership hears one peer-down either way.
        if (up) hidden.add(peer);
        showDown(peer);
        // Closed when nobody else uses it and this side dialled it; otherwise it stays up,
        // hidden: another part holds it, or the peer dialled it.
        if (settle(peer, base) && !base.peers().includes(peer)) hidden.delete(peer);
      },
      send: (peer: string, channel: string, payload: unknown, options?: Parameters<Transport['send']>[3]): boolean => (hidden.has(peer) ? false : base.send(peer, channel, payload, options)),
      peers: (): string[] => base.peers().filter((peer) => !hidden.has(peer)),
      on: (event: string, handler: (value: never) => void): (() => void) => {
        if (event !== 'peer-up' && event !== 'peer-down') return (base.on as (event: string, handler: (value: never) => void) => () => void)(event, handler);
        const handlers = event === 'peer-up' ? upHandlers : downHandlers;
        const added = handler as (peer: string) => void;
        handlers.add(added);
        return () => handlers.delete(added);
      },
    });
    return membershipView;
  };

  return {
    owner,
    membership,
    wantedBy: (peer) => [...(wishes.get(peer) ?? [])].sort(),
    breakLink(peer: string): void {
      const up = transport.peers().includes(peer);
      // No longer asked for: the transport's disconnect also stops its redialling, so the
      // `peer-down` that follows has this side dial again for the parts that still wish for it.
      asked.delete(peer);
      transport.disconnect(peer);
      // A link still being dialled ends with no `peer-down`.
      if (!up) queueMicrotask(() => redialIfWanted(peer));
    },
  };
}
