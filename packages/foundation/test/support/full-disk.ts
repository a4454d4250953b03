// Storage failures under a running node, for real: the descriptor of the write-ahead log segment
// Raft has open is made to refer to /dev/full, so that its next write fails with ENOSPC (a full
// disk), or is closed, so that Raft's own close of it fails with EBADF.
import { closeSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** The descriptor of the write-ahead log segment Raft has open under `dataDir`, if one. */
function findSegmentUnder(dataDir: string): number | undefined {
  // A file in the log's directory: not the directory itself, which Raft opens a moment to sync it.
  const wal = `${join(dataDir, 'raft', 'wal')}/`;
  return readdirSync('/proc/self/fd')
    .map(Number)
    .find((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(wal);
      } catch {
        return false;
      }
    });
}

/** The descriptor of the write-ahead log segment Raft has open under `dataDir`. */
function openSegmentUnder(dataDir: string): number {
  const target = findSegmentUnder(dataDir);
  if (target === undefined) throw new Error(`no open segment under ${join(dataDir, 'raft', 'wal')}`);
  return target;
}

/**
 * Whether Raft under `dataDir` has loaded its storage: its log segment is open, and the snapshot a
 * new log starts from is written (before that the load may still write to the segment).
 */
export function raftLoadedUnder(dataDir: string): boolean {
  if (findSegmentUnder(dataDir) === undefined) return false;
  try {
    return readdirSync(join(dataDir, 'raft', 'snapshots')).some((name) => name.endsWith('.snap'));
  } catch {
    return false;
  }
}

/**
 * Holds `count` descriptors (on /dev/null) until the returned function gives them back. Held from
 * before a node opens its log and given back right after closeSegmentUnder, they keep the
 * segment's number free for Raft's close to fail on: open() takes the lowest free number, so the
 * sockets a node still opens take these lower ones first.
 */
export function holdDescriptors(count: number): () => void {
  const held = Array.from({ length: count }, () => openSync('/dev/null', 'r'));
  return () => {
    for (const fd of held.splice(0)) closeSync(fd);
  };
}

/**
 * Closes the open write-ahead log segment under `dataDir` behind Raft's back, so that Raft's own
 * close of it fails (EBADF) when the node stops. Call stop() at once: a descriptor opened
 * meanwhile would take the number, and Raft's close would close it instead.
 */
export function closeSegmentUnder(dataDir: string): void {
  closeSync(openSegmentUnder(dataDir));
}

/** Puts /dev/full where the open write-ahead log segment under `dataDir` was (same descriptor number). */
export function fillDiskUnder(dataDir: string): void {
  const target = openSegmentUnder(dataDir);
  closeSync(target);
  // open() takes the lowest free descriptor: fill the lower ones until it is the segment's.
  const lower: number[] = [];
  for (let fd = openSync('/dev/full', 'r+'); fd !== target; fd = openSync('/dev/full', 'r+')) lower.push(fd);
  for (const fd of lower) closeSync(fd);
}
