import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/** `noconnection`: the node of a remote pid is down, unreachable, or no router is configured. */
export class NoConnectionError extends ProcessError {
  readonly node: string;

  constructor(node: string, detail = 'the node is unreachable', cause?: unknown) {
    super({
      type: 'noconnection',
      code: PROCESS_ERROR_CODES.noConnection,
      message: `no connection to node ${node}: ${detail}`,
      category: 'external',
      retryStrategy: 'exponential_backoff',
      context: { node, detail },
      cause,
    });
    this.node = node;
  }
}
