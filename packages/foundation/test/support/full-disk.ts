// A full disk under a running node, for real: the descriptor of the write-ahead log segment Raft
// has open is made to refer to /dev/full, so that its next write fails with ENOSPC.
import { closeSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Puts /dev/full where the open write-ahead log segment under `dataDir` was (same descriptor number). */
export function fillDiskUnder(dataDir: string): void {
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
  closeSync(target);
  // open() takes the lowest free descriptor: fill the lower ones until it is the segment's.
  const lower: number[] = [];
  for (let fd = openSync('/dev/full', 'r+'); fd !== target; fd = openSync('/dev/full', 'r+')) lower.push(fd);
  for (const fd of lower) closeSync(fd);
}
