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
import { createHash } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
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
  const path = lockSocketPath(directory);
  let server: Server;
  try {
    server = await listen(path);
  } catch (error) {
    // Only a socket file can outlive its holder; an abstract socket or a pipe in use has one.
    if (!isAddressInUse(error)) throw error;
    if (path.startsWith('\0') || path.startsWith('\\\\') || (await answers(path))) throw inUse();
    rmSync(path, { force: true });
    server = await listen(path).catch((again: unknown) => {
      throw isAddressInUse(again) ? inUse() : again;
    });
  }
  let released: Promise<void> | null = null;
  return {
    release() {
      released ??= new Promise((resolve) => server.close(() => resolve()));
      return released;
    },
  };
}
