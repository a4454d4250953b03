// npm run bench -w @foundation/events
//
// Targets (issue 4): in-memory store ≥ 1M events/s; getByCorrelation p99 < 1 ms with 1,000,000
// events stored; SQLite storeBatch of 1,000 ≥ 100k events/s, durable. Each beside an in-run
// baseline: a plain Map insert, a Map-of-arrays lookup, raw better-sqlite3 inserts.
import { correlationLatency, emitRate, makeEvents, mapInsert, storeForeign, storeOwn } from './memory';
import { medianOf, report } from '../../../tooling/scripts/bench';
import { fsyncLatency, rawInsertRate, storeBatchRate } from './sqlite';

const MEMORY_EVENTS = 1_000_000;
const SQLITE_EVENTS = 200_000;

// Each measure builds its own store and drops it; those that share one set of events come after
// the others, so that a million live events of one measure do not slow another's collector.
const own = medianOf(3, () => storeOwn(MEMORY_EVENTS));
const emit = medianOf(3, () => emitRate(MEMORY_EVENTS));
const events = makeEvents(MEMORY_EVENTS);
const map = medianOf(3, () => mapInsert(events));
const foreign = medianOf(3, () => storeForeign(events));
const correlation = correlationLatency(MEMORY_EVENTS, 20_000);

const sqliteEvents = events.slice(0, SQLITE_EVENTS);
const durable: number[] = [];
const normal: number[] = [];
const rawFull: number[] = [];
const rawFullBare: number[] = [];
for (let run = 0; run < 3; run += 1) {
  durable.push(await storeBatchRate(sqliteEvents, 'full'));
  rawFull.push(rawInsertRate(sqliteEvents, 'full', true));
  normal.push(await storeBatchRate(sqliteEvents, 'normal'));
  rawFullBare.push(rawInsertRate(sqliteEvents, 'full', false));
}
const fsync = fsyncLatency(300);
const middle = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

report(
  'events',
  [
    { name: 'memory: store(event), events made by the same store', value: own, unit: 'events/s', note: 'target 1M/s' },
    { name: 'memory: store(event), foreign events (checked, copied)', value: foreign, unit: 'events/s' },
    { name: 'memory: emit (newEvent + store)', value: emit, unit: 'events/s' },
    { name: 'baseline: Map.set(id, event)', value: map, unit: 'events/s' },
    { name: 'getByCorrelation, 1M stored, p50', value: correlation.store.p50, unit: 'µs' },
    { name: 'getByCorrelation, 1M stored, p99', value: correlation.store.p99, unit: 'µs', note: 'target < 1000 µs' },
    { name: 'getByCorrelation, 1M stored, max', value: correlation.store.max, unit: 'µs' },
    { name: 'baseline: Map-of-arrays lookup + sort, p99', value: correlation.baseline.p99, unit: 'µs' },
    { name: 'sqlite: storeBatch(1,000), synchronous FULL (durable)', value: middle(durable), unit: 'events/s', note: 'target 100k/s' },
    { name: 'sqlite: storeBatch(1,000), synchronous NORMAL', value: middle(normal), unit: 'events/s' },
    { name: 'baseline: raw better-sqlite3, same indexes, FULL', value: middle(rawFull), unit: 'events/s' },
    { name: 'baseline: raw better-sqlite3, no indexes, FULL', value: middle(rawFullBare), unit: 'events/s' },
    { name: 'anchor: this disk, write 4 KiB + fsync, p50', value: fsync.p50, unit: 'µs', note: `p99 ${Math.round(fsync.p99)} µs` },
  ],
  {
    memory_store_own_per_s: Math.round(own),
    memory_store_foreign_per_s: Math.round(foreign),
    memory_emit_per_s: Math.round(emit),
    baseline_map_set_per_s: Math.round(map),
    correlation_1m_p50_us: Math.round(correlation.store.p50 * 10) / 10,
    correlation_1m_p99_us: Math.round(correlation.store.p99 * 10) / 10,
    correlation_1m_max_us: Math.round(correlation.store.max * 10) / 10,
    baseline_correlation_p99_us: Math.round(correlation.baseline.p99 * 10) / 10,
    sqlite_store_batch_full_per_s: Math.round(middle(durable)),
    sqlite_store_batch_normal_per_s: Math.round(middle(normal)),
    baseline_raw_sqlite_full_per_s: Math.round(middle(rawFull)),
    baseline_raw_sqlite_full_no_indexes_per_s: Math.round(middle(rawFullBare)),
    anchor_fsync_p50_us: Math.round(fsync.p50),
    anchor_fsync_p99_us: Math.round(fsync.p99),
  },
  { digits: 2 },
);
