// Storage failures under a running node, for real: the descriptor of the write-ahead log segment
// Raft has open is made to refer to /dev/full, so that its next write fails with ENOSPC (a full
// disk), or is closed, so that Raft's own close of it fails with EBADF.
import { closeSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** The descriptor of the write-ahead log segment Raft has open under `dataDir`. */
function openSegmentUnder(dataDir: string): number {
  const wal = join(dataDir, 'raft', 'wal');
  const target = readdirSync('/proc/self/fd')
    .map(Number)
    .find((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(wal);
      } catch {
        return false;
      }
    });
  if (target === undefined) throw new Error(`no open segment under ${wal}`);
  return target;
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
