// Process runtimes wired over real channels transports on loopback, as the README's "composing
// your own stack" does; for tests that need remote pids without whole Foundation nodes.
import { createTransport } from '@foundation/channels';
import type { ChannelOptions, Transport } from '@foundation/channels';
import { createRuntime, createTransportRouter } from '@foundation/process';
import type { Runtime } from '@foundation/process';
import { urlOf, withEagerConnect } from '../../src/index';
import { freePort } from '../../src/options';

export interface RuntimeOnChannels {
  readonly nodeId: string;
  readonly runtime: Runtime;
  readonly transport: Transport;
}

export interface RuntimesOptions {
  readonly secret: string;
  readonly channels: Record<string, ChannelOptions>;
}

/** Starts runtimes named `name@127.0.0.1:port` on free ports; `stopAll` ends every one started. */
export function runtimesOnChannels(options: RuntimesOptions) {
  const started: RuntimeOnChannels[] = [];
  return {
    /** A runtime whose router goes through `withEagerConnect` unless `eager` is false. */
    async start(name: string, { eager = true }: { eager?: boolean } = {}): Promise<Runtime> {
      const port = await freePort('127.0.0.1');
      const nodeId = `${name}@127.0.0.1:${port}`;
      const transport = createTransport({ nodeId, listen: { host: '127.0.0.1', port }, security: { secret: options.secret }, channels: options.channels, resolveAddress: urlOf });
      await transport.ready();
      const runtime = createRuntime({ nodeId, router: createTransportRouter(eager ? withEagerConnect(transport) : transport, { channel: 'process' }) });
      started.push({ nodeId, runtime, transport });
      return runtime;
    },
    async stopAll(): Promise<void> {
      for (const { transport, runtime } of started.splice(0)) {
        await runtime.shutdown();
        await transport.close();
      }
    },
  };
}
