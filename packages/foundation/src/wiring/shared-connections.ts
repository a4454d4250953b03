// One channels transport carries everything a node says: the membership's control traffic,
// Raft, process messages, the registry and control requests. A link to a peer is therefore
// shared, and `disconnect(peer)` on the transport ends it for every part at once (and stops the
// redialling any part asked for with `connect`). The membership closes links freely: idle ones it
// opened for a one-off exchange, and those of neighbours it dropped. Without this layer it would
// close a Raft leader's link to a learner, or to a voter it does not happen to have as a
// neighbour, and nothing would dial it again until the membership wanted that peer back.
//
// Each part gets a view of the transport whose connect and disconnect only state its own wish.
// A link is really closed when the last part that wished for it lets it go. The membership's view
// also hides from the membership a link it let go that another part still holds: the membership
// sees it go down (and come up again when it connects later), so its own bookkeeping of idle
// links stays exact while the link itself stays up for the others. A link the membership never
// asked for (one the peer dialled) is the peer's to close: letting go of it only hides it.
import type { Transport } from '@foundation/channels';

export interface OwnerOptions {
  /**
   * The wish ends when the link goes down (`peer-down`), as if the part had called `disconnect`:
   * for links made on demand, which the next message makes again. Without it, a link wished for
   * is redialled until the part lets it go, however long the peer stays away.
   */
  readonly untilDown?: boolean;
}

export interface SharedConnections {
  /** A view for one part of the node: its `connect` and `disconnect` are that part's wish alone. */
  owner(name: string, base?: Transport, options?: OwnerOptions): Transport;
  /** The membership's view (see the file comment). One per transport. */
  membership(base?: Transport): Transport;
  /** The parts that want a link to `peer`, sorted. */
  wantedBy(peer: string): string[];
}

const MEMBERSHIP = 'membership';

/**
 * `transport` is the transport itself; each view may sit on a wrapper of it (`base`), such as
 * the context-propagating one, so long as the wrapper passes connect and disconnect through.
 */
export function shareConnections(transport: Transport): SharedConnections {
  const wishes = new Map<string, Set<string>>();

  const wish = (owner: string, peer: string): void => {
    let owners = wishes.get(peer);
    if (owners === undefined) {
      owners = new Set();
      wishes.set(peer, owners);
    }
    owners.add(owner);
  };
  /** Drops `owner`'s wish; true when nobody wants the link any more. */
  const release = (owner: string, peer: string): boolean => {
    const owners = wishes.get(peer);
    owners?.delete(owner);
    if (owners !== undefined && owners.size > 0) return false;
    wishes.delete(peer);
    return true;
  };

  const owner = (name: string, base: Transport = transport, options: OwnerOptions = {}): Transport => {
    if (name === MEMBERSHIP) throw new Error('the membership has its own view: use membership()');
    if (options.untilDown === true) {
      base.on('peer-down', (peer) => {
        if (wishes.get(peer)?.has(name) === true && release(name, peer)) base.disconnect(peer);
      });
    }
    const view = Object.create(base) as Transport;
    return Object.assign(view, {
      connect(peer: string): void {
        wish(name, peer);
        base.connect(peer);
      },
      disconnect(peer: string): void {
        // A part that never wished for the link lets go of nothing: the link may be one the peer
        // dialled, which the membership uses without a wish.
        const held = wishes.get(peer)?.has(name) ?? false;
        if (release(name, peer) && held) base.disconnect(peer);
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
    /** Every peer-up the membership hears is followed by one peer-down before the next peer-up. */
    const shown = new Set<string>(base.peers());
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
        wish(MEMBERSHIP, peer);
        base.connect(peer);
        if (!hidden.delete(peer)) return;
        // Up all along: the membership hears so the way it would from the transport, later.
        queueMicrotask(() => {
          if (!hidden.has(peer) && base.peers().includes(peer)) showUp(peer);
        });
      },
      disconnect(peer: string): void {
        const asked = wishes.get(peer)?.has(MEMBERSHIP) ?? false;
        if (release(MEMBERSHIP, peer) && asked) {
          base.disconnect(peer);
          return;
        }
        // Another part holds the link, or the peer dialled it: the link stays, the membership lets go.
        if (!base.peers().includes(peer)) return;
        hidden.add(peer);
        showDown(peer);
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
  };
}
