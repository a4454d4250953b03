// One node at a time on a data directory. Two nodes writing one Raft log corrupt it, and a
// second node started on a directory in use (the same --data-dir twice, a restart while the old
// process still runs) loaded the first one's membership and waited for a leader forever.
//
// The lock is core's `lockDirectory`: a listening local socket named by the directory's device
// and inode, which the kernel frees when its holder's process ends, however that ends (its
// comments say why not a pid file). Raft's file storage takes the same lock on its own directory.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { lockDirectory } from '@foundation/core';
import type { DirectoryLock } from '@foundation/core';
import { DataDirInUseError } from '../errors/data-dir-in-use-error';
import { DataDirUnusableError } from '../errors/data-dir-unusable-error';

export type DataDirLock = DirectoryLock;

/**
 * Takes `dataDir` (made if missing) for this node; DataDirInUseError while a live node holds it,
 * DataDirUnusableError when it cannot be made or written (a regular file, under one, read-only).
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  // Synchronous: calls on one directory, once per start, that leave no turn of the event loop in
  // which the start's clock (a test's virtual one too) runs on before the node joins.
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.W_OK);
  } catch (error) {
    throw new DataDirUnusableError(dataDir, error);
  }
  return lockDirectory(dataDir, () => new DataDirInUseError(dataDir));
}
