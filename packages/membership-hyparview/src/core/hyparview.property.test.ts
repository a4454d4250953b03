// Property tests of the HyParView core: whatever peers send, in any order, the views stay within
// their bounds, never hold the node itself, and never hold one peer in both views.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createSeededRandom } from '@foundation/core';
import { defaultLocalConfig } from './config';
import { HyParViewCore } from './hyparview';
import type { HyParViewMessage } from './messages';

const PEERS = ['me', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q'];

const peer = fc.constantFrom(...PEERS);
const nodes = fc.array(peer, { maxLength: 8 });

const message: fc.Arbitrary<HyParViewMessage> = fc.oneof(
  fc.constant<HyParViewMessage>({ type: 'join', epoch: 0 }),
  fc.record({ type: fc.constant('forward-join' as const), epoch: fc.constant(0), node: peer, ttl: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ type: fc.constant('neighbor' as const), epoch: fc.constant(0), priority: fc.constantFrom('high' as const, 'low' as const) }),
  fc.record({ type: fc.constant('neighbor-reply' as const), epoch: fc.constant(0), accepted: fc.boolean() }),
  // Replies that carry a request id, some of them answering requests this node sent (ids start at 1).
  fc.record({ type: fc.constant('neighbor-reply' as const), epoch: fc.constant(0), accepted: fc.boolean(), id: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ type: fc.constant('disconnect' as const), epoch: fc.constant(0), alive: fc.boolean() }),
  fc.record({ type: fc.constant('shuffle' as const), epoch: fc.constant(0), origin: peer, ttl: fc.integer({ min: 0, max: 10 }), nodes }),
  fc.record({ type: fc.constant('shuffle-reply' as const), epoch: fc.constant(0), nodes }),
);

type Input =
  | { kind: 'message'; from: string; message: HyParViewMessage; advance: number }
  | { kind: 'down'; peer: string; advance: number }
  | { kind: 'tick'; advance: number }
  | { kind: 'heartbeat'; peer: string; advance: number };

const input: fc.Arbitrary<Input> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('message' as const), from: peer, message, advance: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('down' as const), peer, advance: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), advance: fc.integer({ min: 0, max: 2_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), peer, advance: fc.integer({ min: 0, max: 300 }) }) },
);

/** The inputs above, and connections being set up and coming up (they move request deadlines). */
const connectionInput: fc.Arbitrary<Input | { kind: 'connecting' | 'up'; peer: string; advance: number }> = fc.oneof(
  { weight: 8, arbitrary: input },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('connecting' as const, 'up' as const), peer, advance: fc.integer({ min: 0, max: 300 }) }) },
);

describe('HyParView core properties', () => {
  it('views stay bounded, disjoint and free of the node itself whatever arrives', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.array(input, { maxLength: 200 }), fc.subarray(PEERS.slice(1), { maxLength: 4 }), (seed, inputs, seeds) => {
        const config = { ...defaultLocalConfig().hyparview, activeViewSize: 3, passiveViewSize: 6, shuffleIntervalMs: 500 };
        const node = new HyParViewCore({ self: 'me', config, random: createSeededRandom(seed) });
        let now = 0;
        node.join(seeds, now);
        for (const step of inputs) {
          now += step.advance;
          if (step.kind === 'message') node.receive(step.from, step.message, now);
          else if (step.kind === 'down') node.peerDown(step.peer, now);
          else if (step.kind === 'heartbeat') node.heartbeatFrom(step.peer, now);
          else node.tick(now);
          const active = node.activeView();
          const passive = node.passiveView();
          expect(active.length).toBeLessThanOrEqual(3);
          expect(passive.length).toBeLessThanOrEqual(6);
          expect(active).not.toContain('me');
          expect(passive).not.toContain('me');
          for (const entry of active) expect(passive).not.toContain(entry);
          expect(new Set(active).size).toBe(active.length);
          expect(new Set(passive).size).toBe(passive.length);
          // Every effect targets someone else.
          for (const effect of node.takeEffects()) {
            if (effect.kind === 'send') expect(effect.to).not.toBe('me');
            if (effect.kind === 'neighbor-up') expect(effect.peer).not.toBe('me');
          }
          expect(node.nextTick()).toBeGreaterThanOrEqual(Number.NEGATIVE_INFINITY);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a tick leaves nothing due at once: the driver never ticks every millisecond, whatever waits (a JOIN held for a connection did)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.array(connectionInput, { maxLength: 150 }), fc.subarray(PEERS.slice(1), { maxLength: 3 }), (seed, inputs, seeds) => {
        const config = { ...defaultLocalConfig().hyparview, activeViewSize: 3, passiveViewSize: 6, shuffleIntervalMs: 500 };
        const node = new HyParViewCore({ self: 'me', config, random: createSeededRandom(seed) });
        let now = 0;
        node.join(seeds, now);
        for (const step of inputs) {
          now += step.advance;
          if (step.kind === 'message') node.receive(step.from, step.message, now);
          else if (step.kind === 'down') node.peerDown(step.peer, now);
          else if (step.kind === 'heartbeat') node.heartbeatFrom(step.peer, now);
          else if (step.kind === 'connecting') node.peerConnecting(step.peer, now);
          else if (step.kind === 'up') node.peerUp(step.peer, now);
          // The driver ticks at what nextTick() asks, and at least a millisecond on (a deadline
          // reached exactly may take that one more).
          node.tick(now);
          now += 1;
          node.tick(now);
          node.takeEffects();
          expect({ now, next: node.nextTick() > now }).toEqual({ now, next: true });
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('neighbor-up and neighbor-down effects always describe the active view exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.array(input, { maxLength: 150 }), (seed, inputs) => {
        const config = { ...defaultLocalConfig().hyparview, activeViewSize: 4, passiveViewSize: 8, shuffleIntervalMs: 500 };
        const node = new HyParViewCore({ self: 'me', config, random: createSeededRandom(seed) });
        const mirror = new Set<string>();
        let now = 0;
        node.join(['a'], now);
        for (const step of inputs) {
          now += step.advance;
          if (step.kind === 'message') node.receive(step.from, step.message, now);
          else if (step.kind === 'down') node.peerDown(step.peer, now);
          else if (step.kind === 'heartbeat') node.heartbeatFrom(step.peer, now);
          else node.tick(now);
          for (const effect of node.takeEffects()) {
            if (effect.kind === 'neighbor-up') {
              expect(mirror.has(effect.peer)).toBe(false);
              mirror.add(effect.peer);
            } else if (effect.kind === 'neighbor-down') {
              expect(mirror.delete(effect.peer)).toBe(true);
            }
          }
          expect([...mirror].sort()).toEqual(node.activeView().sort());
        }
      }),
      { numRuns: 300 },
    );
  });
});
