// One process at a time on a directory. Two processes writing one log into it corrupt it, and
// each package that owns such a directory (the meta-package's data directory, Raft's file
// storage) takes it through this lock.
//
// The lock is a listening local socket named by the directory's device and inode, so that the
// kernel, not a file of ours, says whether its holder lives: it goes with the process however
// that ends, and a pid written to a file could name an unrelated process after a crash (pids are
// reused, and a container's node is pid 1 every time). On Linux the socket is in the abstract
// namespace (no file at all); on Windows it is a named pipe; elsewhere a socket file under the
// temporary directory, which a crashed holder leaves behind: nothing answers on it, so it is
// taken over.
//
// The takeover is the one place two starters race, and checking that nothing answers and then
// removing the file was not enough: two starters found the same dead file, the first removed it
// and listened, the second removed the first's live file and listened too, and both held the
// directory. So no file is ever replaced: a starter listens under a temporary name and links the
// lock's name to it, which fails while any file is there (install); and a dead file is removed
// only by the one starter holding a claim on it, a second socket file put in place the same way,
// after checking again under the claim (removeDead). A holder removes the lock's file on release
// only while it is still its own.
import { createHash, randomBytes } from 'node:crypto';
import { linkSync, lstatSync, statSync, unlinkSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

export interface DirectoryLock {
  /** Lets go of the directory (again: nothing). */
  release(): Promise<void>;
}

/**
 * The longest socket path the kernel keeps whole (sockaddr_un's sun_path less its NUL): 103 bytes
 * on macOS and the BSDs, 107 on Linux. Node 20 cuts a longer one short, and newer Node refuses it.
 */
const MAX_SOCKET_PATH_BYTES = 103;

/**
 * The socket's name, from the directory's device and inode: the directory itself, whatever path
 * leads to it (relative, through a symbolic link, renamed while held, or a volume mounted at
 * another path in another container). Named by its path, two containers sharing a network
 * namespace (a pod, host networking) refused each other's separate volumes mounted at the same
 * path, and a held directory moved elsewhere was free under its new name.
 *
 * The names are the ones the meta-package's data directory lock used before it moved here, so a
 * node of an older version and one of this version still refuse each other's directory.
 *
 * A socket file's path must fit MAX_SOCKET_PATH_BYTES: macOS's temporary directory
 * (/var/folders/xx/<30 characters>/T/) and a 32-digit name made 106 bytes, cut short on bind,
 * so the file a crashed holder left was never the one removed and the directory stayed refused
 * for good. The file's name is shorter, and a temporary directory too long for it gives way to
 * /tmp.
 */
export function lockSocketPath(directory: string, platform: NodeJS.Platform = process.platform, temporary: string = tmpdir()): string {
  const { dev, ino } = statSync(directory, { bigint: true });
  const digest = createHash('sha256').update(`${dev}:${ino}`).digest('hex');
  const name = `foundation-data-dir-${digest.slice(0, 32)}`;
  if (platform === 'linux') return `\0${name}`;
  if (platform === 'win32') return `\\\\.\\pipe\\${name}`;
  const file = `foundation-data-dir-${digest.slice(0, 24)}.sock`;
  const path = join(temporary, file);
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES ? path : join('/tmp', file);
}

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      // The lock holds nothing up: the holder's own sockets and timers keep the process alive.
      server.unref();
      resolve(server);
    });
  });
}

/** Whether something listens on `path` (a socket file a crashed holder left has nobody behind it). */
async function answers(path: string): Promise<boolean> {
  return (await probe(path)) === 'live';
}

/**
 * What is at `path`: a file something listens on, a file nothing answers on (dead), or no file
 * at all, which a takeover must tell apart from a dead one (removeDead). A connection reset before
 * it was made, or a full backlog (Linux's EAGAIN), had a listener at the other end: its holder let
 * go meanwhile, or is busy, and neither leaves a dead file.
 */
function probe(path: string): Promise<'live' | 'dead' | 'absent'> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve('live');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') resolve('absent');
      else resolve(error.code === 'ECONNRESET' || error.code === 'EAGAIN' ? 'live' : 'dead');
    });
  });
}

function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
}

/**
 * Takes `directory`, which must exist, for this process until the lock is released or the
 * process ends. While a live holder (another process, or this one) has it, rejects with the
 * error `inUse` makes, so that each package refuses with its own coded error; a failure to stat
 * the directory or to listen rejects with that failure.
 */
export async function lockDirectory(directory: string, inUse: () => Error): Promise<DirectoryLock> {
  return lockSocket(lockSocketPath(directory), inUse);
}

/**
 * lockDirectory's lock at a socket path of its own choosing; internal, so that tests take the
 * socket file of macOS and the BSDs on Linux too.
 */
export async function lockSocket(path: string, inUse: () => Error): Promise<DirectoryLock> {
  if (path.startsWith('\0') || path.startsWith('\\\\')) {
    // An abstract socket or a pipe goes with its holder: one in use has a live holder.
    const server = await listen(path).catch((error: unknown) => {
      throw isAddressInUse(error) ? inUse() : error;
    });
    return releasedBy(() => close(server));
  }
  const installed = await takeOver(path);
  if (installed === null) throw inUse();
  return releasedBy(() => uninstall(installed));
}

/**
 * Installs a socket file at `path`, removing a dead one there first; null while a live one is
 * there.
 */
async function takeOver(path: string): Promise<Installed | null> {
  return (await install(path)) ?? ((await removeDead(path)) ? await install(path) : null);
}

function releasedBy(release: () => Promise<void>): DirectoryLock {
  let released: Promise<void> | null = null;
  return {
    release() {
      released ??= release();
      return released;
    },
  };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A socket file this process listens on: its path, and the file's identity, so that it removes
 * only its own.
 */
interface Installed {
  readonly server: Server;
  readonly path: string;
  readonly file: BigIntStats;
}

/**
 * Puts a listening socket file at `path`, or returns null if a file is there already, live or
 * not. It listens under a temporary name next to `path` and then links `path` to it, which no
 * file of another is ever replaced by and which makes `path` answer from the moment it appears:
 * listening at `path` itself, a starter that came between bind and listen found nothing answering
 * on a live holder's file.
 */
async function install(path: string): Promise<Installed | null> {
  // Shorter than the lock's own name in the same directory, so within MAX_SOCKET_PATH_BYTES too.
  const temporary = join(dirname(path), `foundation-lock-${randomBytes(8).toString('hex')}.tmp`);
  const server = await listen(temporary);
  let file: BigIntStats;
  try {
    file = lstatSync(temporary, { bigint: true });
    linkSync(temporary, path);
  } catch (error) {
    // Closing removes the temporary name Node listened on.
    await close(server);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw error;
  }
  try {
    // The socket listens on through `path`; only a crash just before this leaves the name behind.
    unlinkSync(temporary);
  } catch {
    // Closing removes it.
  }
  return { server, path, file };
}

/**
 * Removes `path` only while it is still this process's own file (after an older version's
 * takeover, which removed files without a claim, it can be another's); closing the server removes
 * only the temporary name Node listened on, already gone.
 */
async function uninstall({ server, path, file }: Installed): Promise<void> {
  try {
    const now = identity(path);
    if (now !== null && sameFile(now, file)) unlinkSync(path);
  } finally {
    // Closed whatever the file system said: a claim left listening refused every takeover.
    await close(server);
  }
}

function identity(path: string): BigIntStats | null {
  try {
    return lstatSync(path, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * The same file. Its inode number is not given to another file meanwhile: a live socket file's is
 * held by its socket, and a dead one is removed only under the claim the comparing starter holds.
 * A live file that goes away frees its number for the next file, so a takeover compares only
 * across a moment the file was seen dead.
 */
function sameFile(one: BigIntStats, other: BigIntStats): boolean {
  return one.dev === other.dev && one.ino === other.ino;
}

/** The file that gives the one process holding it the right to remove a dead file at `path`. */
export function claimPath(path: string): string {
  const digest = createHash('sha256').update(basename(path)).digest('hex');
  return join(dirname(path), `foundation-claim-${digest.slice(0, 24)}.sock`);
}

/**
 * Removes the file at `path` if nothing answers on it: true once it is gone, false while
 * something answers there or another starter is removing it.
 *
 * Removing is not checking and then unlinking: two starters that both found the file dead, the
 * first unlinked it and put its own live file there, the second then unlinked that one, and both
 * held the directory. So a starter removes a dead file only while it holds the claim, itself a
 * socket file put in place like the lock's (a second starter finds it live and is refused), and
 * checks again under the claim. While it holds the claim a dead file at `path` stays there until
 * it removes it: a holder removes only its own live file, and nobody else removes a dead one. A
 * claim its crashed holder left is itself a dead file, removed the same way under a claim of its
 * own.
 */
async function removeDead(path: string): Promise<boolean> {
  // The common refusal, a live holder, takes no claim.
  if (await answers(path)) return false;
  const claimName = claimPath(path);
  const claim = await takeOver(claimName);
  if (claim === null) return false;
  try {
    const before = identity(path);
    if (before === null) return true;
    // Only a file there that refused the connection is dead. Nothing at all, or a connection
    // reset, means the file seen before was a live holder's that let go, and a file put there
    // since can have its inode number (ext4 and UFS give a freed one out again at once):
    // comparing identities would take that live file for the dead one.
    const state = await probe(path);
    if (state === 'absent') return true;
    if (state === 'live') return false;
    // The same file before and after nobody answered on a file there: that file is dead, and dead
    // files do not come back to life or go away but under this claim.
    const after = identity(path);
    if (after === null || !sameFile(before, after)) return false;
    unlinkSync(path);
    return true;
  } finally {
    await uninstall(claim);
  }
}
