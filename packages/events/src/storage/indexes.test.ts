import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import type { FoundationEvent } from '../event';
import { IdTable } from './id-table';
import { SortedIdList } from './sorted-id-list';
import { TimeIndex } from './time-index';

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
});

describe('IdTable', () => {
  const event = (id: number): FoundationEvent => Object.freeze({ id, type: 't', data: null, correlationId: 'c', parentId: null, timestamp: id, wallTime: id, node: 'n' });

  it('matches a Map through dense appends, gaps, far ids, re-adds and removals, across compactions (seed=6)', () => {
    const random = createSeededRandom(6);
    const table = new IdTable();
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
          table.add(event(id));
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
    const table = new IdTable();
    table.add(event(1));
    let widest = 0;
    for (let id = 2; id <= 200_000; id += 1) {
      table.add(event(id));
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
    const table = new IdTable();
    for (let id = 1; id <= 100_000; id += 1000) table.add(event(id));
    expect(table.size).toBe(100);
    expect(table.span).toBeLessThanOrEqual(1024);
    for (let id = 1; id <= 100_000; id += 1000) expect(table.get(id)).toEqual(event(id));
    expect(table.get(2)).toBeUndefined();
  });
});
