import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import type { FoundationEvent } from '../event';
import { IdTable } from './id-table';
import { SortedIdList } from './sorted-id-list';
import { DEFAULT_TIME_BLOCK_SIZE, TimeIndex } from './time-index';

describe('SortedIdList', () => {
  it('keeps ids sorted whatever the insertion order, and removes from anywhere', () => {
    const list = new SortedIdList();
    for (const id of [5, 1, 9, 3, 7]) list.insert(id);
    expect(list.toArray()).toEqual([1, 3, 5, 7, 9]);
    expect([list.first(), list.last(), list.size, list.at(2), list.indexOf(6)]).toEqual([1, 9, 5, 5, 3]);
    expect(list.remove(1)).toBe(true);
    expect(list.remove(7)).toBe(true);
    expect(list.remove(8)).toBe(false);
    expect(list.toArray()).toEqual([3, 5, 9]);
  });

  it('matches a plain sorted array through random inserts and removals, across compactions (seed=5)', () => {
    const random = createSeededRandom(5);
    const list = new SortedIdList();
    const model: number[] = [];
    let next = 1;
    for (let step = 0; step < 20_000; step += 1) {
      const action = random.int(0, 10);
      if (action < 5) {
        const id = random.bool(0.9) ? next++ : random.int(1, next + 10);
        if (!model.includes(id)) {
          list.insert(id);
          model.push(id);
          model.sort((a, b) => a - b);
        }
      } else if (action < 9 && model.length > 0) {
        const id = model.shift()!; // the common case: the oldest
        expect(list.remove(id)).toBe(true);
      } else if (model.length > 0) {
        const id = random.pick(model);
        model.splice(model.indexOf(id), 1);
        expect(list.remove(id)).toBe(true);
      }
    }
    expect(list.toArray()).toEqual(model);
  });
  it('keeps ids from elsewhere (below the largest) in order through runs of inserts, removals and reads, matching a plain array (seed=11)', () => {
    // Such ids wait in a side list, merged when it grows or a position is read: every read
    // (first, last, size, at, indexOf, removal from anywhere) must see them, merged or not.
    const random = createSeededRandom(11);
    const list = new SortedIdList();
    let model: number[] = [];
    const held = new Set<number>();
    let next = 1_000_000;
    const add = (id: number): void => {
      if (held.has(id)) return;
      list.insert(id);
      model.push(id);
      held.add(id);
    };
    for (let step = 0; step < 1200; step += 1) {
      // A run of inserts with no read between them: ids of this node's own, and ids from
      // elsewhere, below the largest, far below or just behind it.
      for (let count = random.int(0, 40); count > 0; count -= 1) {
        const kind = random.int(0, 4);
        add(kind === 0 ? next++ : kind === 1 ? random.int(1, 1000) : kind === 2 ? next - random.int(1, 50) : random.int(1, next));
      }
      model.sort((a, b) => a - b);
      const action = random.int(0, 6);
      if (action === 0 && model.length > 0) {
        expect({ step, removed: list.remove(model[0]!) }).toEqual({ step, removed: true });
        held.delete(model.shift()!);
      } else if (action === 1 && model.length > 0) {
        const id = random.pick(model);
        expect({ step, id, removed: list.remove(id) }).toEqual({ step, id, removed: true });
        model.splice(model.indexOf(id), 1);
        held.delete(id);
        expect({ step, absent: list.remove(id) }).toEqual({ step, absent: false });
      } else if (action === 2) {
        const doomed = [...new Set(Array.from({ length: random.int(0, 40) }, () => (model.length > 0 && random.bool(0.8) ? random.pick(model) : random.int(1, next))))].sort((a, b) => a - b);
        const doomedSet = new Set(doomed);
        const kept = model.filter((id) => !doomedSet.has(id));
        expect({ step, removed: list.removeAll(doomed) }).toEqual({ step, removed: model.length - kept.length });
        model = kept;
        for (const id of doomed) held.delete(id);
      } else if (action === 3 && model.length > 0) {
        const position = random.int(0, model.length);
        expect({ step, position, id: list.at(position) }).toEqual({ step, position, id: model[position] });
      } else if (action === 4) {
        const probe = random.int(0, next + 2);
        expect({ step, probe, position: list.indexOf(probe) }).toEqual({ step, probe, position: model.filter((id) => id < probe).length });
      }
      // Read without merging: these answer from both lists.
      expect({ step, size: list.size, first: list.first(), last: list.last() }).toEqual({ step, size: model.length, first: model[0], last: model.at(-1) });
      if (step % 100 === 0) expect({ step, ids: list.toArray() }).toEqual({ step, ids: model });
    }
    expect(list.toArray()).toEqual(model);
    list.clear();
    expect([list.size, list.first(), list.toArray()]).toEqual([0, undefined, []]);
  });

  it('removes ids a little way from the front, one by one and many at once, matching a plain array across compactions (seed=9)', () => {
    // Evicting by age when clocks disagree a little removes ids just behind the front, not at
    // it: the ids before them move up and the head advances, rather than every later id down.
    const random = createSeededRandom(9);
    const list = new SortedIdList();
    const model: number[] = [];
    let next = 1;
    for (let step = 0; step < 6000; step += 1) {
      for (let count = random.int(1, 6); count > 0; count -= 1) {
        list.insert(next);
        model.push(next);
        next += random.int(1, 3);
      }
      if (model.length < 50) continue;
      const reach = random.pick([3, 20, 200, model.length]);
      const doomed = [...new Set(Array.from({ length: random.int(0, 12) }, () => model[random.int(0, Math.min(reach, model.length))]!))].sort((a, b) => a - b);
      if (random.bool(0.3)) doomed.push(next + 1, next + 7); // absent ones, past the end
      if (random.bool()) {
        for (const id of doomed) expect({ step, id, removed: list.remove(id) }).toEqual({ step, id, removed: model.includes(id) });
      } else {
        expect({ step, removed: list.removeAll(doomed) }).toEqual({ step, removed: doomed.filter((id) => model.includes(id)).length });
      }
      for (const id of doomed) if (model.includes(id)) model.splice(model.indexOf(id), 1);
      if (step % 50 === 0) {
        expect({ step, ids: list.toArray(), size: list.size, first: list.first(), last: list.last() }).toEqual({ step, ids: model, size: model.length, first: model[0], last: model.at(-1) });
        const probe = random.int(0, next + 2);
        expect({ step, probe, at: list.indexOf(probe) }).toEqual({ step, probe, at: model.filter((id) => id < probe).length });
      }
    }
    expect(list.toArray()).toEqual(model);
  });
  it('removes many ids in one pass: from the front, from anywhere, absent ones ignored, matching a plain array (seed=8)', () => {
    // Pruning by wall time removes ids in time order, which is random order in the id lists
    // when clocks disagree; one pass over the list replaces a splice per id.
    const random = createSeededRandom(8);
    for (let round = 0; round < 200; round += 1) {
      const list = new SortedIdList();
      const count = random.int(0, 3000);
      const model: number[] = [];
      for (let id = 1; id <= count; id += 1) {
        if (random.bool(0.8)) {
          list.insert(id);
          model.push(id);
        }
      }
      // Sometimes drop a prefix first, so the list has a head to work from.
      const dropped = random.bool(0.3) ? model.splice(0, random.int(0, Math.min(model.length, 2000) + 1)) : [];
      for (const id of dropped) list.remove(id);
      const prefix = random.bool(0.5) ? model.slice(0, random.int(0, model.length + 1)) : [];
      const scattered = Array.from({ length: random.int(0, 400) }, () => random.int(0, count + 5));
      const doomed = [...new Set([...prefix, ...scattered])].sort((a, b) => a - b);
      const doomedSet = new Set(doomed);
      const expected = model.filter((id) => !doomedSet.has(id));
      expect({ round, removed: list.removeAll(doomed) }).toEqual({ round, removed: model.length - expected.length });
      expect({ round, ids: list.toArray(), size: list.size, first: list.first() }).toEqual({ round, ids: expected, size: expected.length, first: expected[0] });
      list.insert(count + 10);
      expect(list.last()).toBe(count + 10);
    }
  });
});

describe('TimeIndex', () => {
  it('orders by (time, id), tolerates a clock that steps back, and answers ranges inclusively', () => {
    const index = new TimeIndex();
    index.insert(100, 1);
    index.insert(200, 2);
    index.insert(150, 3); // stepped back
    index.insert(200, 4);
    expect(index.idsBetween(100, 200)).toEqual([1, 3, 2, 4]);
    expect(index.idsBetween(101, 199)).toEqual([3]);
    expect(index.idsBefore(200)).toEqual([1, 3]);
    expect(index.oldestTime()).toBe(100);
    index.remove(100, 1);
    index.remove(200, 4);
    expect(index.idsBetween(0, 1000)).toEqual([3, 2]);
    expect(index.size).toBe(2);
  });

  // Clocks of different nodes disagree, so entries arrive out of time order and leave from
  // anywhere (eviction by id): the blocks split, join and empty; small blocks make each of
  // those happen often, and the default size checks the same at the size stores run at.
  for (const [blockSize, steps, seed] of [[2, 4000, 31], [5, 6000, 32], [16, 8000, 33], [undefined, 40_000, 34]] as const) {
    it(`matches a sorted array through appends in order and out of it, removals from the front and anywhere, and range queries (block size ${blockSize ?? 'default'}, seed=${seed})`, () => {
      const random = createSeededRandom(seed);
      const index = new TimeIndex(blockSize);
      const model: Array<readonly [number, number]> = [];
      const position = (time: number, id: number): number => {
        let low = 0;
        let high = model.length;
        while (low < high) {
          const middle = (low + high) >>> 1;
          const [middleTime, middleId] = model[middle]!;
          if (middleTime < time || (middleTime === time && middleId < id)) low = middle + 1;
          else high = middle;
        }
        return low;
      };
      let nextId = 1;
      let clock = 1000;
      // Phases: mostly in order, then scattered, so that both full blocks and split ones occur.
      for (let step = 0; step < steps; step += 1) {
        const scattered = Math.floor(step / 1000) % 2 === 1;
        const action = random.int(0, 20);
        if (action < 11 || model.length === 0) {
          clock += random.int(0, 3);
          const time = scattered || random.bool(0.05) ? clock - random.int(0, 3000) : clock;
          const id = nextId++;
          index.insert(time, id);
          model.splice(position(time, id), 0, [time, id]);
        } else if (action < 15) {
          const [time, id] = model.shift()!;
          index.remove(time, id);
        } else if (action < 19) {
          const [time, id] = model.splice(random.int(0, model.length), 1)[0]!;
          index.remove(time, id);
        } else {
          // Absent entries, and a present id with another time, are left alone.
          const [time, id] = random.pick(model);
          index.remove(time + 1, id);
          index.remove(time, nextId + 5);
        }
        if (step % (blockSize === undefined ? 401 : 37) === 0 || step === steps - 1) {
          const from = clock - random.int(0, 4000);
          const to = from + random.int(0, 2000);
          const before = clock - random.int(0, 4000);
          expect({ step, size: index.size, oldest: index.oldestTime(), newest: index.newestTime() }).toEqual({ step, size: model.length, oldest: model[0]?.[0], newest: model.at(-1)?.[0] });
          expect({ step, between: index.idsBetween(from, to) }).toEqual({ step, between: model.filter(([time]) => time >= from && time <= to).map(([, id]) => id) });
          expect({ step, before: index.idsBefore(before) }).toEqual({ step, before: model.filter(([time]) => time < before).map(([, id]) => id) });
        }
      }
      expect(index.idsBetween(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)).toEqual(model.map(([, id]) => id));
      while (model.length > 0) {
        const [time, id] = model.splice(random.int(0, model.length), 1)[0]!;
        index.remove(time, id);
      }
      expect({ size: index.size, oldest: index.oldestTime(), newest: index.newestTime(), all: index.idsBefore(Number.POSITIVE_INFINITY) }).toEqual({ size: 0, oldest: undefined, newest: undefined, all: [] });
      index.insert(5, 1);
      expect(index.idsBetween(0, 10)).toEqual([1]);
    });
  }
  it('holds a bounded number of entries when the oldest leave and newer ones arrive behind one far ahead', () => {
    // A node whose clock ran far ahead stores one event; every later one goes in before it, into
    // the same block, and leaves from its front (evicted by maxAgeMs, measured from that event,
    // or by count). The block kept every entry that ever left its front.
    const index = new TimeIndex();
    index.insert(2_000_000_000_000, 1_000_000);
    let widest = 0;
    for (let id = 1; id <= 50_000; id += 1) {
      index.insert(1_700_000_000_000 + id, id);
      if (id > 100) index.remove(1_700_000_000_000 + id - 100, id - 100);
      widest = Math.max(widest, index.span);
    }
    expect(index.size).toBe(101);
    expect(widest).toBeLessThanOrEqual(2 * DEFAULT_TIME_BLOCK_SIZE + 1);
    expect(index.idsBefore(Number.POSITIVE_INFINITY)).toEqual([...Array.from({ length: 100 }, (_, offset) => 49_901 + offset), 1_000_000]);
    expect(index.oldestTime()).toBe(1_700_000_049_901);
  });
});

describe('IdTable', () => {
  const event = (id: number): FoundationEvent => Object.freeze({ id, type: 't', data: null, correlationId: 'c', parentId: null, timestamp: id, wallTime: id, node: 'n' });

  it('matches a Map through dense appends, gaps, far ids, re-adds and removals, across compactions (seed=6)', () => {
    const random = createSeededRandom(6);
    const table = new IdTable<FoundationEvent>();
    const model = new Map<number, FoundationEvent>();
    let next = 1;
    for (let step = 0; step < 30_000; step += 1) {
      const action = random.int(0, 20);
      if (action < 10) {
        let id: number;
        if (action < 7) id = next++;
        else if (action < 8) id = next + random.int(1, 2000); // a gap, small or past MAX_GAP
        else if (action < 9) id = random.int(1, next + 1); // an old id again
        else id = random.int(1_000_000, 2_000_000); // far away
        if (!model.has(id)) {
          table.add(id, event(id));
          model.set(id, event(id));
        }
      } else if (model.size > 0) {
        const keys = [...model.keys()];
        const id = action < 17 ? Math.min(...keys.slice(0, 50)) : random.pick(keys);
        expect(table.delete(id)).toBe(true);
        model.delete(id);
        expect(table.delete(id)).toBe(false);
      }
      if (step % 97 === 0) {
        expect(table.size).toBe(model.size);
        for (const id of [...model.keys()].slice(0, 20)) expect(table.get(id)).toEqual(model.get(id));
        expect(table.get(next + 5000)).toBeUndefined();
      }
    }
    expect(table.size).toBe(model.size);
    for (const [id, stored] of model) expect(table.get(id)).toEqual(stored);
    table.clear();
    expect(table.size).toBe(0);
  });

  it('stays within four slots an event when one old event outlives every later one', () => {
    // Pruning by wall time spares an event whose clock ran ahead; the store goes on making ids
    // and pruning them a little later. The array spanned every id made since that event.
    const table = new IdTable<FoundationEvent>();
    table.add(1, event(1));
    let widest = 0;
    for (let id = 2; id <= 200_000; id += 1) {
      table.add(id, event(id));
      if (id > 101) table.delete(id - 100);
      widest = Math.max(widest, table.span);
    }
    expect(table.size).toBe(101);
    expect(widest).toBeLessThanOrEqual(Math.max(1024, 4 * 101) + 1);
    for (const id of [1, ...Array.from({ length: 100 }, (_, index) => 199_901 + index)]) expect(table.get(id)).toEqual(event(id));
    expect(table.get(2)).toBeUndefined();
    expect(table.get(199_900)).toBeUndefined();
  });

  it('stays within four slots an event when ids arrive with gaps', () => {
    const table = new IdTable<FoundationEvent>();
    for (let id = 1; id <= 100_000; id += 1000) table.add(id, event(id));
    expect(table.size).toBe(100);
    expect(table.span).toBeLessThanOrEqual(1024);
    for (let id = 1; id <= 100_000; id += 1000) expect(table.get(id)).toEqual(event(id));
    expect(table.get(2)).toBeUndefined();
  });
});
