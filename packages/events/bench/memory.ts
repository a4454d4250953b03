// The in-memory store: store throughput against a plain Map insert, and getByCorrelation
// latency with 1,000,000 events stored.
import { createEventStore, createMemoryStorage } from '@foundation/events';
import type { FoundationEvent } from '@foundation/events';
import { latencies } from './latency';
import type { Percentiles } from './latency';

const GROUP = 10; // events per correlation id

function makeEvents(count: number): FoundationEvent[] {
  const maker = createEventStore({ storage: createMemoryStorage({ maxEvents: 1 }), node: 'bench' });
  const correlationIds = Array.from({ length: Math.ceil(count / GROUP) }, (_, index) => `corr-${index.toString(36)}-${'x'.repeat(24)}`);
  const types = ['order-placed', 'payment-taken', 'order-shipped', 'user-signed-in'];
  const events = new Array<FoundationEvent>(count);
  for (let index = 0; index < count; index += 1) {
    events[index] = maker.newEvent(types[index & 3]!, { order: index, amount: index % 997, region: 'eu' }, { correlationId: correlationIds[Math.floor(index / GROUP)]! });
  }
  return events;
}

/** store(event) of events made beforehand by another store (so each is checked as foreign). */
export function storeForeign(events: readonly FoundationEvent[]): number {
  const store = createEventStore({ storage: createMemoryStorage({ maxEvents: events.length }), node: 'bench' });
  const started = process.hrtime.bigint();
  for (const event of events) store.store(event);
  return events.length / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** newEvent + store (emit): the whole path of an event made and stored by the same store. */
export function emitRate(count: number): number {
  const store = createEventStore({ storage: createMemoryStorage({ maxEvents: count }), node: 'bench' });
  const started = process.hrtime.bigint();
  for (let index = 0; index < count; index += 1) store.emit('order-placed', { order: index, amount: index % 997, region: 'eu' }, { correlationId: 'c' });
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** store(event) of events this store made with newEvent beforehand: the storing alone. */
export function storeOwn(count: number): number {
  const store = createEventStore({ storage: createMemoryStorage({ maxEvents: count }), node: 'bench' });
  const events = new Array<FoundationEvent>(count);
  for (let index = 0; index < count; index += 1) {
    events[index] = store.newEvent('order-placed', { order: index, amount: index % 997, region: 'eu' }, { correlationId: `c${index % 100_000}` });
  }
  const started = process.hrtime.bigint();
  for (const event of events) store.store(event);
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** Baseline: inserting the same events into a plain Map by id. */
export function mapInsert(events: readonly FoundationEvent[]): number {
  const map = new Map<number, FoundationEvent>();
  const started = process.hrtime.bigint();
  for (const event of events) map.set(event.id, event);
  const rate = events.length / (Number(process.hrtime.bigint() - started) / 1e9);
  if (map.size !== events.length) throw new Error('lost events');
  return rate;
}

/** getByCorrelation latency with `count` events stored; and a Map-of-arrays lookup as baseline. */
export function correlationLatency(count: number, samples: number): { store: Percentiles; baseline: Percentiles; stored: number } {
  const events = makeEvents(count);
  const store = createEventStore({ storage: createMemoryStorage({ maxEvents: count }), node: 'bench' });
  for (let offset = 0; offset < events.length; offset += 10_000) store.storeBatch(events.slice(offset, offset + 10_000));
  const groups = Math.ceil(count / GROUP);
  const ids = Array.from({ length: samples }, (_, index) => events[((index * 7919) % groups) * GROUP]!.correlationId);
  const storeLatency = latencies(samples, (index) => {
    const found = store.getByCorrelation(ids[index]!);
    if (found.length !== GROUP) throw new Error(`expected ${GROUP} events, got ${found.length}`);
    return found;
  });
  const plain = new Map<string, FoundationEvent[]>();
  for (const event of events) {
    const list = plain.get(event.correlationId);
    if (list === undefined) plain.set(event.correlationId, [event]);
    else list.push(event);
  }
  const baseline = latencies(samples, (index) => plain.get(ids[index]!)!.slice().sort((a, b) => a.timestamp - b.timestamp));
  return { store: storeLatency, baseline, stored: store.stats().currentCount };
}

export { makeEvents };
