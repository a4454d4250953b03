// One process at a time on a directory, through a listening local socket named by the
// directory's device and inode. Across processes it is proved where it is used: Raft's file
// storage (packages/raft) and the meta-package's data directory (packages/foundation).
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDirectory, lockSocketPath } from './directory-lock';

const root = mkdtempSync(join(tmpdir(), 'core-directory-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const inUse = (): Error => Object.assign(new Error('in use'), { code: 'IN_USE' });

function taken(directory: string): Promise<unknown> {
  return lockDirectory(directory, inUse).then(
    async (lock) => {
      await lock.release();
      return 'taken';
    },
    (error: unknown) => error,
  );
}

describe('lockDirectory', () => {
  it('refuses a held directory with the caller error, also by another path to it, and frees it on release', async () => {
    const directory = join(root, 'held');
    mkdirSync(directory);
    const held = await lockDirectory(directory, inUse);
    expect(await taken(directory)).toMatchObject({ code: 'IN_USE' });
    expect(await taken(join(directory, '.'))).toMatchObject({ code: 'IN_USE' });
    await held.release();
    // Released twice: nothing more happens.
    await held.release();
    expect(await taken(directory)).toBe('taken');
  });

  it('is the directory itself, not its path: renamed while held it is still refused, and a new directory at the old path is free', async () => {
    // Keyed by path, a held directory moved elsewhere was free under its new name, and two
    // containers sharing a network namespace (a pod, host networking) refused each other's
    // separate volumes mounted at the same path.
    const before = join(root, 'before-rename');
    const after = join(root, 'after-rename');
    mkdirSync(before);
    const held = await lockDirectory(before, inUse);
    try {
      renameSync(before, after);
      mkdirSync(before);
      expect(await taken(after)).toMatchObject({ code: 'IN_USE' });
      expect(await taken(before)).toBe('taken');
    } finally {
      await held.release();
    }
  });

  it('rejects with the fs error for a directory that does not exist', async () => {
    await expect(lockDirectory(join(root, 'missing'), inUse)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('is locked through a socket file whose path the kernel keeps whole, however long the temporary directory', () => {
    // macOS keeps 103 bytes of a socket's path and its $TMPDIR is /var/folders/xx/<30>/T/: the
    // path ran to 106, Node cut it short, and the file a crashed holder left was never found to
    // be removed (the directory stayed refused for good), or newer Node refused to listen at all.
    const directory = join(root, 'socket-path');
    mkdirSync(directory);
    const macTemporary = '/var/folders/7g/mbft3r4s4w7chvl_ys3f5p8r0000gn/T/';
    const long = `/${'t'.repeat(120)}`;
    for (const [platform, temporary, under] of [
      ['darwin', macTemporary, macTemporary],
      ['freebsd', '/tmp', '/tmp/'],
      ['darwin', long, '/tmp/'],
    ] as const) {
      const path = lockSocketPath(directory, platform, temporary);
      expect(Buffer.byteLength(path)).toBeLessThanOrEqual(103);
      expect(path.startsWith(under)).toBe(true);
    }
    // The same directory is the same socket, and another directory another.
    expect(lockSocketPath(directory, 'darwin', macTemporary)).toBe(lockSocketPath(join(directory, '.'), 'darwin', macTemporary));
    expect(lockSocketPath(root, 'darwin', macTemporary)).not.toBe(lockSocketPath(directory, 'darwin', macTemporary));
  });
});
