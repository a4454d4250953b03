// One process at a time on a directory, through a listening local socket named by the
// directory's device and inode. Across processes it is proved where it is used: Raft's file
// storage (packages/raft) and the meta-package's data directory (packages/foundation).
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Interface } from 'node:readline';
import { claimPath, lockDirectory, lockSocket, lockSocketPath } from './directory-lock';

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

  describe('through a socket file (macOS and the BSDs), which a crashed holder leaves behind', () => {
    /** Socket files at `paths` with nobody behind them: a child listens on each, then is killed. */
    async function leftByACrash(paths: readonly string[]): Promise<void> {
      const listener = `
        const { createServer } = require('node:net');
        const paths = process.argv.slice(1);
        let listening = 0;
        for (const path of paths) createServer().listen(path, () => { if (++listening === paths.length) console.log('listening'); });
      `;
      const child = spawn(process.execPath, ['-e', listener, ...paths], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`the listener exited with ${code}`)));
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      for (const path of paths) {
        expect(existsSync(path)).toBe(true);
        expect(await connectable(path)).toBe(false);
      }
    }

    function connectable(path: string): Promise<boolean> {
      return new Promise((resolve) => {
        const socket = connect(path);
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    }

    /** Starts `count` takeovers of `path` at once; the locks taken and the codes of the refusals. */
    async function contend(path: string, count: number): Promise<{ taken: Array<{ release(): Promise<void> }>; refused: unknown[] }> {
      const results = await Promise.allSettled(Array.from({ length: count }, () => lockSocket(path, inUse)));
      return {
        taken: results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
        refused: results.flatMap((result) => (result.status === 'rejected' ? [(result.reason as { code?: unknown }).code] : [])),
      };
    }

    it('is taken over by exactly one of several starters at once, and free again once that one releases it', async () => {
      // Each starter that found the file dead removed it and listened: the second removed the
      // first's live socket file and listened too, and both held the directory (two processes
      // writing one Raft log), and the first's release could remove the second's file.
      const directory = mkdtempSync(join(root, 'takeover-'));
      const rounds = 20;
      const paths = Array.from({ length: rounds }, (_, round) => join(directory, `lock-${round}.sock`));
      await leftByACrash(paths);
      for (const path of paths) {
        const { taken, refused } = await contend(path, 8);
        expect(taken).toHaveLength(1);
        expect(refused).toEqual(Array.from({ length: 7 }, () => 'IN_USE'));
        expect(await connectable(path)).toBe(true);
        await taken[0]?.release();
        expect(existsSync(path)).toBe(false);
        const again = await lockSocket(path, inUse);
        await again.release();
      }
      // Nothing of the takeovers stays behind.
      expect(readdirSync(directory)).toEqual([]);
    });

    it('has one holder at a time while starters take it and let it go over and over', async () => {
      // A starter under the claim saw a live holder's file, whose connection was then reset (the
      // holder let go before accepting it) and taken for a dead file's refusal, and then a third
      // starter's new file, which the file system (ext4 here, UFS on the BSDs) had given the inode
      // number just freed: the same file by its identity, so it was removed as dead, and the third
      // starter and this one both held the directory.
      const directory = mkdtempSync(join(root, 'churn-'));
      const path = join(directory, 'lock.sock');
      let holders = 0;
      let together = 0;
      async function churn(times: number): Promise<void> {
        for (let time = 0; time < times; time += 1) {
          const lock = await lockSocket(path, inUse).catch((error: unknown) => {
            if ((error as { code?: unknown }).code !== 'IN_USE') throw error;
            return null;
          });
          if (lock === null) continue;
          holders += 1;
          if (holders > 1) together += 1;
          await new Promise((resolve) => setImmediate(resolve));
          holders -= 1;
          await lock.release();
        }
      }
      await Promise.all(Array.from({ length: 6 }, () => churn(60)));
      expect(together).toBe(0);
      expect(readdirSync(directory)).toEqual([]);
    });

    it('is taken over also after a starter crashed while it took it over, leaving its claim behind', async () => {
      // A dead file is removed only under a claim, itself a socket file: a claim a crashed
      // starter left, and a claim on that claim, are removed the same way, not refused for good.
      const directory = mkdtempSync(join(root, 'takeover-claim-'));
      const path = join(directory, 'lock.sock');
      await leftByACrash([path, claimPath(path), claimPath(claimPath(path))]);
      const lock = await lockSocket(path, inUse);
      await expect(lockSocket(path, inUse)).rejects.toMatchObject({ code: 'IN_USE' });
      await lock.release();
      expect(readdirSync(directory)).toEqual([]);
      await (await lockSocket(path, inUse)).release();
    });

    it('is taken over by exactly one starter of several in two processes at once', async () => {
      const directory = mkdtempSync(join(root, 'takeover-processes-'));
      const rounds = 5;
      const paths = Array.from({ length: rounds }, (_, round) => join(directory, `lock-${round}.sock`));
      await leftByACrash(paths);
      // Each child, told `take <path>`, starts four takeovers at once and prints what became of
      // them; told `release`, lets go of what it took.
      const contender = `
        import { createInterface } from 'node:readline';
        const { lockSocket } = await import(process.argv[1]);
        const inUse = () => Object.assign(new Error('in use'), { code: 'IN_USE' });
        let held = [];
        console.log('ready');
        for await (const line of createInterface({ input: process.stdin })) {
          const [command, path] = line.split(' ');
          if (command === 'take') {
            const results = await Promise.allSettled([1, 2, 3, 4].map(() => lockSocket(path, inUse)));
            held = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
            console.log(JSON.stringify(results.map((result) => (result.status === 'fulfilled' ? 'taken' : result.reason.code))));
          } else {
            await Promise.all(held.map((lock) => lock.release()));
            held = [];
            console.log('released');
          }
        }
      `;
      const children: Array<{ child: ChildProcessWithoutNullStreams; lines: Interface }> = [0, 1].map(() => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', contender, join(__dirname, 'directory-lock.ts')]);
        child.stderr.pipe(process.stderr);
        return { child, lines: createInterface({ input: child.stdout }) };
      });
      const next = ({ lines }: { lines: Interface }): Promise<string> => new Promise((resolve) => lines.once('line', resolve));
      try {
        expect(await Promise.all(children.map(next))).toEqual(['ready', 'ready']);
        for (const path of paths) {
          const replies = children.map(next);
          for (const { child } of children) child.stdin.write(`take ${path}\n`);
          const outcomes = (await Promise.all(replies)).flatMap((reply) => JSON.parse(reply) as string[]);
          expect(outcomes.filter((outcome) => outcome === 'taken')).toHaveLength(1);
          expect(outcomes.filter((outcome) => outcome === 'IN_USE')).toHaveLength(7);
          const released = children.map(next);
          for (const { child } of children) child.stdin.write('release\n');
          expect(await Promise.all(released)).toEqual(['released', 'released']);
          const again = await lockSocket(path, inUse);
          await again.release();
        }
        expect(readdirSync(directory)).toEqual([]);
      } finally {
        const exited = children.map(({ child }) => new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null))));
        for (const { child } of children) child.stdin.end();
        await Promise.all(exited);
      }
    });
  });
});
