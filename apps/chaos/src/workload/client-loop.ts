// The loop every workload client runs, the key-value clients and the config writers alike: pick a
// node whose process runs (paused ones included: a client cannot tell a paused node from a slow
// one), make one request there, think, and again until stopped.
import type { Random } from '@foundation/core';
import type { Cluster } from '../cluster/cluster';
import type { ChaosNode } from '../cluster/node-process';

export interface ClientLoopOptions {
  readonly cluster: Cluster;
  readonly clients: number;
  /** Client n draws from `random.fork(`${name}-${n}`)`. */
  readonly random: Random;
  readonly name: string;
  /** Pause between a client's requests, ms: drawn in [min, max). Default [5, 40). */
  readonly thinkMs?: readonly [number, number];
}

/**
 * One client's turn on the node it picked. `retry`: it made no request (the node did not answer
 * what the client had to read first), so it picks again after a short pause, without thinking.
 */
export type ClientTurn = (node: ChaosNode) => Promise<'done' | 'retry'>;

export interface ClientLoops {
  /** Stops the clients; resolves when every client's last request has completed or timed out. */
  stop(): Promise<void>;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `clients` loops; `createClient` makes each client's turn, with its number and its random. */
export function startClientLoops(options: ClientLoopOptions, createClient: (client: number, random: Random) => ClientTurn): ClientLoops {
  let stopping = false;
  const [thinkMin, thinkMax] = options.thinkMs ?? [5, 40];

  const runClient = async (client: number): Promise<void> => {
    const random = options.random.fork(`${options.name}-${client}`);
    const turn = createClient(client, random);
    while (!stopping) {
      const candidates = options.cluster.nodes.filter((node) => node.state === 'up' || node.state === 'paused');
      // With no node to ask, or after a node refused at once (killed just now), pause so that
      // the loop does not spin.
      if (candidates.length === 0 || (await turn(random.pick(candidates))) === 'retry') {
        await pause(50);
        continue;
      }
      if (thinkMax > thinkMin) await pause(random.int(thinkMin, thinkMax));
    }
  };

  const clients = Array.from({ length: options.clients }, (_, client) => runClient(client));
  return {
    async stop() {
      stopping = true;
      await Promise.all(clients);
    },
  };
}
