// One node at a time on a data directory. Two nodes writing one Raft log corrupt it, and a
// second node started on a directory in use (the same --data-dir twice, a restart while the old
// process still runs) loaded the first one's membership and waited for a leader forever.
//
// The lock is a listening local socket named by the directory's device and inode, so that the kernel, not a file
// of ours, says whether its holder lives: it goes with the process however that ends, and a
// pid written to a file could name an unrelated process after a crash (pids are reused, and a
// container's node is pid 1 every time). On Linux the socket is in the abstract namespace (no
// file at all); on Windows it is a named pipe; elsewhere a socket file under the temporary
// directory, which a crashed holder leaves behind: nothing answers on it, so it is taken over.
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirInUseError } from '../errors/data-dir-in-use-error';

export interface DataDirLock {
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
      // The lock holds nothing up: the node's own sockets and timers keep the process alive.
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

/** Takes `dataDir` (made if missing) for this node; DataDirInUseError while a live node holds it. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  // Synchronous: two calls on one directory, once per start, that leave no turn of the event
  // loop in which the start's clock (a test's virtual one too) runs on before the node joins.
  mkdirSync(dataDir, { recursive: true });
  const path = lockSocketPath(dataDir);
  let server: Server;
  try {
    server = await listen(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || path.startsWith('\0') || path.startsWith('\\\\') || (await answers(path))) {
      throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? new DataDirInUseError(dataDir) : error;
    }
    rmSync(path, { force: true });
    server = await listen(path).catch((again: unknown) => {
      throw (again as NodeJS.ErrnoException).code === 'EADDRINUSE' ? new DataDirInUseError(dataDir) : again;
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
