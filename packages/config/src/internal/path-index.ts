// A flat index of a frozen config: every dotted path (of keys without dots) to its value, so
// that `get('a.b.c')` is one Map lookup. Built once per change; configs are small.
import { isUnsafeKey } from '@foundation/core';
import { MAX_SEGMENT_LENGTH } from '../path';
import { isRecord } from './plain-data';

/** Paths beyond this many are left out; lookups that miss the index walk the tree instead. */
const MAX_INDEXED_PATHS = 100_000;
const MAX_INDEXED_DEPTH = 32;
const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

export function buildPathIndex(root: unknown): Map<string, unknown> {
  const index = new Map<string, unknown>();
  const visit = (node: unknown, prefix: string, depth: number): void => {
    if (depth >= MAX_INDEXED_DEPTH) return;
    // An array's own index keys: a schema's transform may return a sparse one, whose holes
    // have no key (and whose length may be far larger than what it holds).
    const keys = Array.isArray(node) ? Object.keys(node).filter((key) => ARRAY_INDEX.test(key)) : isRecord(node) ? Object.keys(node) : undefined;
    if (keys === undefined) return;
    for (const key of keys) {
      if (index.size >= MAX_INDEXED_PATHS) return;
      // Keys no dotted path can name are left out, so a lookup misses and the parse gives the
      // error every other use of that path gives: a key longer than a segment may be can only
      // come from a transform (the sources refuse it), and update or revert could never name it.
      if (key === '' || key.includes('.') || key.length > MAX_SEGMENT_LENGTH || isUnsafeKey(key)) continue;
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const value = (node as Record<string, unknown>)[key];
      index.set(path, value);
      visit(value, path, depth + 1);
    }
  };
  visit(root, '', 0);
  return index;
}
