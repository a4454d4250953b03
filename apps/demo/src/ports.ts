// Ports for the demo: chosen by the OS (nothing else on the machine can be using them when we
// get them), or a fixed range from a base port that is checked first, so that a collision is a
// clear message instead of a node failing halfway through the start.
import { createServer } from 'node:net';

export const HOST = '127.0.0.1';

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port, host: HOST, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/** `count` distinct ports the OS reports free now. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await listenOnce(0));
  return [...ports];
}

/** The ports `base`, `base + 1`, ... `base + count - 1`, after checking each is free. */
export async function portRange(base: number, count: number): Promise<number[]> {
  if (!Number.isInteger(base) || base < 1024 || base + count - 1 > 65_535) {
    throw new Error(`the base port must be an integer from 1024 to ${65_535 - count + 1} (got ${base})`);
  }
  const ports = Array.from({ length: count }, (_, index) => base + index);
  for (const port of ports) {
    try {
      await listenOnce(port);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new Error(`port ${port} on ${HOST} is not free (${String(code ?? error)}); pick another base with --port or DEMO_PORT, or leave it out to let the OS choose`, { cause: error });
    }
  }
  return ports;
}
