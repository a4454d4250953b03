import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DeadlineQueue } from './deadline-queue';
import { MailboxBuffer } from './mailbox-buffer';
import { RingQueue } from './ring-queue';

describe('RingQueue and MailboxBuffer', () => {
  it('behave as FIFO queues through growth and wrap-around', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer(), fc.constant('shift' as const)), { maxLength: 400 }), (operations) => {
        const ring = new RingQueue<number>();
        const mailbox = new MailboxBuffer();
        const model: number[] = [];
        for (const operation of operations) {
          if (operation === 'shift') {
            const expected = model.shift();
            expect(ring.shift()).toBe(expected);
            if (mailbox.length > 0) expect(mailbox.shift()).toBe(expected);
          } else {
            model.push(operation);
            ring.push(operation);
            mailbox.push(operation, operation);
          }
          expect(ring.length).toBe(model.length);
          expect(mailbox.length).toBe(model.length);
          expect(ring.peek()).toBe(model[0]);
          expect(Number.isNaN(mailbox.oldestTime()) ? undefined : mailbox.oldestTime()).toBe(model[0]);
        }
        expect(ring.drain()).toEqual(model);
        expect(mailbox.drain()).toEqual(model);
      }),
    );
  });

  it('removes a message from the middle of a mailbox, keeping the others and their times in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant('shift' as const), fc.record({ remove: fc.nat() })), { maxLength: 300 }),
        (operations) => {
          const mailbox = new MailboxBuffer();
          const model: number[] = [];
          for (const operation of operations) {
            if (operation === 'shift') {
              if (model.length > 0) expect(mailbox.shift()).toBe(model.shift());
            } else if (typeof operation === 'object') {
              if (model.length === 0) continue;
              const index = operation.remove % model.length;
              expect(mailbox.removeAt(index)).toBe(model.splice(index, 1)[0]);
            } else {
              model.push(operation);
              mailbox.push(operation, operation + 0.5);
            }
            expect(mailbox.length).toBe(model.length);
            for (let index = 0; index < model.length; index += 1) expect(mailbox.at(index)).toBe(model[index]);
            expect(Number.isNaN(mailbox.oldestTime()) ? undefined : mailbox.oldestTime()).toBe(model.length === 0 ? undefined : model[0]! + 0.5);
          }
        },
      ),
    );
  });

  it('allocates no buffers for an empty mailbox and releases large ones once drained', () => {
    const mailbox = new MailboxBuffer();
    expect(mailbox.retainedBytes()).toBe(0);
    for (let index = 0; index < 5000; index += 1) mailbox.push(index, 0);
    expect(mailbox.retainedBytes()).toBeGreaterThan(5000 * 8);
    while (mailbox.length > 0) mailbox.shift();
    expect(mailbox.retainedBytes()).toBe(0);
    mailbox.push('again', 1);
    expect(mailbox.at(0)).toBe('again');
  });
});

describe('DeadlineQueue', () => {
  interface Entry {
    cancelled: boolean;
    readonly label: number;
  }

  it('pops expired entries in deadline order (ties in insertion order), skipping cancelled ones', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), { maxLength: 200 }), fc.integer({ min: 0, max: 60 }), (items, now) => {
        const queue = new DeadlineQueue<Entry>();
        const entries = items.map(([deadline, cancel], label) => ({ deadline, cancel, entry: { cancelled: false, label } }));
        for (const { deadline, entry } of entries) queue.push(deadline, entry);
        for (const { cancel, entry } of entries) if (cancel) queue.cancel(entry);
        const expected = entries
          .filter(({ deadline, cancel }) => !cancel && deadline <= now)
          .sort((a, b) => a.deadline - b.deadline || a.entry.label - b.entry.label)
          .map(({ entry }) => entry.label);
        expect(queue.popExpired(now).map((entry) => entry.label)).toEqual(expected);
        const rest = entries.filter(({ deadline, cancel }) => !cancel && deadline > now).map(({ deadline }) => deadline);
        expect(queue.peekDeadline()).toBe(rest.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...rest));
      }),
    );
  });

  it('compacts when most entries are cancelled, so answered calls do not pile up', () => {
    const queue = new DeadlineQueue<Entry>();
    for (let label = 0; label < 100_000; label += 1) {
      const entry = { cancelled: false, label };
      queue.push(5_000 + label, entry);
      queue.cancel(entry);
    }
    expect(queue.size).toBeLessThan(3000);
    expect(queue.popExpired(Number.POSITIVE_INFINITY)).toEqual([]);
  });
});
