// Small adapters between one package's port and another package's shape.
import type { Transport } from '@foundation/channels';
import type { Membership } from '@foundation/membership-hyparview';
import type { Pid, Runtime } from '@foundation/process';

/**
 * The registry sends point-to-point on a "channel" named after its topic
 * (`foundation.registry/<namespace>`); channels need a fixed set of channel names. This carries
 * every such topic on one channel, with the topic inside the message.
 */
export function channelMultiplexer(transport: Transport, channel: string) {
  return {
    send(peer: string, topic: string, payload: Uint8Array): boolean {
      return transport.send(peer, channel, { topic, payload });
    },
    onMessage(topic: string, handler: (message: { readonly from: string; readonly payload: unknown }) => void): () => void {
      return transport.onMessage(channel, (message) => {
        const envelope = message.payload as { topic?: unknown; payload?: unknown } | null;
        if (typeof envelope !== 'object' || envelope === null || envelope.topic !== topic) return;
        handler({ from: message.from, payload: envelope.payload });
      });
    },
  };
}

/**
 * The registry purges a node's registrations when it hears `member-leave`, so it must hear only
 * of nodes that left or failed — not of links HyParView dropped to make room.
 */
export function membershipEventsFor(membership: Membership) {
  return {
    members: () => membership.members(),
    on(event: 'member-join' | 'member-leave', handler: (node: string) => void): () => void {
      return membership.on(event, (member, reason) => {
        if (event === 'member-leave' && reason === 'disconnected') return;
        handler(member);
      });
    },
  };
}

/** The registry's Monitor port over the process runtime's monitors. */
export function runtimeMonitor(runtime: Runtime) {
  return {
    monitor: (target: unknown, onDown: (down: { readonly reason: unknown }) => void): unknown => runtime.monitor(target as Pid, (down) => onDown({ reason: down.reason })),
    demonitor: (reference: unknown): void => {
      runtime.demonitor(reference as string);
    },
  };
}
