// The request path from the HTTP API to a kv worker: find a worker by capability in the
// registry (any node's: the registry is replicated), then runtime.call its pid, which reaches
// other nodes as easily as this one. A worker that has just gone (its node killed, itself
// crashed and not yet forgotten everywhere) costs a retry with another one, not a failed request.
// A read is retried whenever the worker went; a write only when it surely did not run it (the
// pid was gone before the call): a worker that exited, or whose node was lost, during the call
// may have written already, and a second write would answer for the first (a put reporting
// `replaced` for its own value, a delete `deleted: false`). That write answers 503, saying so.
import { FoundationError, Pid } from 'foundation';
import type { FoundationNode } from 'foundation';
import type { Routing } from './app-config';
import { KV_CAPABILITY } from './kv-worker';
import type { KvReply, KvRequest } from './kv-worker';

/** Process error codes (@foundation/process) that say the worker is gone, not that the request failed. */
const GONE = [5701 /* noproc */, 5704 /* exited before replying */, 5714 /* noconnection */];
/** Of those, the one that says the call never reached a worker: the pid had no process. */
const NEVER_RAN = [5701];
const ATTEMPTS = 4;
const CALL_TIMEOUT_MS = 8000;

export type RoutedReply = KvReply & { readonly attempts: number };

export async function callKv(node: FoundationNode, request: KvRequest, routing: Routing): Promise<RoutedReply> {
  const tried = new Set<string>();
  let lastError = 'no kv worker is registered';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    let target: Pid;
    try {
      const instance = node.registry.route({ capabilities: [KV_CAPABILITY] }, { strategy: routing });
      target = Pid.from(instance.target);
    } catch (error) {
      lastError = FoundationError.from(error).message;
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    if (tried.has(target.toString()) && attempt < ATTEMPTS) {
      // The registry still lists a worker that failed us: give the update a moment.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    tried.add(target.toString());
    try {
      const reply = await node.runtime.call<KvReply>(target, request, { timeout: CALL_TIMEOUT_MS });
      return { ...reply, attempts: attempt };
    } catch (error) {
      lastError = FoundationError.from(error).message;
      if (!GONE.some((code) => FoundationError.hasType(error, code))) break;
      if (request.op !== 'get' && !NEVER_RAN.some((code) => FoundationError.hasType(error, code))) {
        return { ok: false, status: 503, error: `${lastError}; the ${request.op} may have taken effect`, servedBy: { node: node.id, worker: target.toString() }, attempts: attempt };
      }
    }
  }
  return { ok: false, status: 503, error: lastError, servedBy: { node: node.id, worker: 'none' }, attempts: ATTEMPTS };
}
