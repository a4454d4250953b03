// Each node's HTTP server: the key-value API, cluster-wide config, the node's and the
// cluster's status, the dashboard page and its data, and the demo's kill button. It listens on
// loopback only, answers only requests addressed to loopback (a DNS-rebinding page cannot
// reach it), and lets only the demo's own pages call it across origins (the dashboard falls
// back to another node's API when the node that served it is down).
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { FoundationError } from 'foundation';
import type { FoundationNode } from 'foundation';
import type { ActionResult, Lifecycle, NodeLaunch } from '../protocol';
import { HOST } from '../ports';
import type { Routing } from './app-config';
import type { DashboardFeed } from './dashboard-feed';
import { callKv } from './kv-service';
import { isValidKey } from './kv-worker';

const MAX_BODY_BYTES = 64 * 1024;
const DEFAULT_PARTITION_S = 15;
/**
 * At most one worker crash a second per node: the workers' supervisor gives up after 20
 * restarts in 10 s (node-main.ts), and a burst of crash requests made it give up.
 */
const CRASH_INTERVAL_MS = 1000;
/**
 * How long a client may take to send a request's headers, and the whole request (a 64 KiB body
 * at most), before the server answers 408 and closes the connection; and how many connections it
 * holds at once (the dashboard keeps a few per tab). Node's own defaults (60 s and 300 s, no cap)
 * let a client that trickles bytes hold a connection for minutes, and any number of them.
 */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;
export const MAX_CONNECTIONS = 256;
/** How often Node looks for requests past those timeouts (its default is 30 s). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
const CONFIG_PATH = /^[A-Za-z][A-Za-z0-9]{0,63}(\.[A-Za-z][A-Za-z0-9]{0,63}){0,3}$/;

/** What became of a kill or partition relayed to the orchestrator: its answer, or why there is none. */
export type ActionAnswer = ActionResult | { readonly outcome: 'no-orchestrator' } | { readonly outcome: 'no-answer'; readonly waitedMs: number };

export interface HttpServerOptions {
  readonly node: FoundationNode;
  readonly launch: NodeLaunch;
  readonly feed: DashboardFeed;
  readonly dashboardHtml: string;
  /** The orchestrator's latest word on every node's process (empty without an orchestrator). */
  readonly lifecycle: () => readonly Lifecycle[];
  /** Asks the orchestrator to kill a node, and resolves with what it did. */
  readonly requestKill: (name: string) => Promise<ActionAnswer>;
  /** Asks the orchestrator to cut a node off from the others for a while, and resolves with what it did. */
  readonly requestPartition: (name: string, seconds: number) => Promise<ActionAnswer>;
  /** Crashes one of this node's kv workers; resolves with its pid, or null when none runs. */
  readonly crashWorker: () => Promise<string | null>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Read no further: the 413 goes out and the connection is closed after it.
        request.removeAllListeners('data');
        request.pause();
        reject(new HttpError(413, `the body is over ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** The body is the value: JSON when it parses as JSON, the text itself otherwise. */
function bodyValue(text: string): unknown {
  if (text.length === 0) throw new HttpError(400, 'the body is the value, and it is empty');
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    return text;
  }
  // JSON.parse takes nesting that serialising it again cannot (the store would fail with a 503
  // that invites a retry): refused here as the client's mistake.
  if (nestingDepth(text) > MAX_VALUE_DEPTH) throw new HttpError(400, `the value is nested deeper than ${MAX_VALUE_DEPTH} levels`);
  return value;
}

const MAX_VALUE_DEPTH = 64;

/** The deepest nesting of brackets in JSON text, strings skipped. */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c) index += 1; // backslash: skip the escaped character
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x5b || char === 0x7b) {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (char === 0x5d || char === 0x7d) depth -= 1;
  }
  return deepest;
}

/** Config errors by their 1.x codes. */
function configErrorStatus(error: unknown): HttpError {
  const foundation = FoundationError.from(error);
  const status = foundation.code === 1401 ? 403 : foundation.code === 1301 ? 404 : foundation.code >= 1200 && foundation.code < 1300 ? 422 : foundation.code === 5401 ? 400 : 503;
  return new HttpError(status, foundation.message, foundation.code);
}

export function loadDashboardHtml(): string {
  return readFileSync(new URL('../dashboard/dashboard.html', import.meta.url), 'utf8');
}

export async function startHttpServer(options: HttpServerOptions): Promise<Server> {
  const { node, launch, feed } = options;
  const port = launch.httpPort;
  const allowedHosts = new Set([`${HOST}:${port}`, `localhost:${port}`]);
  const allowedOrigins = new Set(launch.roster.flatMap((entry) => [entry.httpUrl, entry.httpUrl.replace(HOST, 'localhost')]));
  const routing = (): Routing => node.config.getWithDefault('kv.routing', 'round-robin') as Routing;

  const selfUrl = launch.roster.find((entry) => entry.id === node.id)?.httpUrl ?? `http://${HOST}:${port}`;
  const send = (response: ServerResponse, status: number, body: unknown, location?: string): void => {
    const text = JSON.stringify(body, null, 2);
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...(location === undefined ? {} : { location }) });
    response.end(text);
  };
  let lastCrashAt = -Infinity;
  const processOf = (name: string): Lifecycle | null => options.lifecycle().find((entry) => entry.name === name) ?? null;
  /** Where to follow a node's process: this node's view of it, or another running node's when this one is going away. */
  const followUrl = (name: string, avoidSelf: boolean): string => {
    const running = new Set(options.lifecycle().filter((entry) => entry.state === 'running').map((entry) => entry.name));
    const others = launch.roster.filter((entry) => entry.httpUrl !== selfUrl && entry.name !== name);
    const base = avoidSelf ? (others.find((entry) => running.has(entry.name)) ?? others[0])?.httpUrl ?? selfUrl : selfUrl;
    return `${base}/api/nodes/${encodeURIComponent(name)}`;
  };
  /** What the orchestrator did not do (a refusal, no answer, no orchestrator) as an HTTP error; null when it acted. */
  const notActed = (answer: ActionAnswer, what: string, name: string): HttpError | null => {
    if (answer.outcome === 'no-orchestrator') return new HttpError(503, 'no orchestrator to ask: this node was not started by the demo');
    if (answer.outcome === 'no-answer') return new HttpError(504, `the orchestrator did not answer within ${answer.waitedMs / 1000} s: the ${what} may or may not happen; GET ${followUrl(name, false)} shows ${name}'s process`);
    return null;
  };

  async function kv(method: string, key: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!isValidKey(key)) throw new HttpError(400, 'a key is 1–128 characters of letters, digits, ".", "_", ":" and "-", starting with a letter or digit');
    const op = method === 'GET' ? 'get' : method === 'PUT' ? 'put' : method === 'DELETE' ? 'delete' : null;
    if (op === null) throw new HttpError(405, `${method} is not served here: GET, PUT or DELETE`);
    const value = op === 'put' ? bodyValue(await readBody(request)) : undefined;
    const reply = await callKv(node, { op, key, via: node.id, ...(op === 'put' ? { value } : {}) }, routing());
    const via = { via: node.id, servedBy: reply.servedBy, attempts: reply.attempts };
    if (!reply.ok) return send(response, reply.status, { error: reply.error, key, ...via });
    if (op === 'get' && !reply.found) return send(response, 404, { key, found: false, ...via });
    if (op === 'delete') return send(response, reply.found ? 200 : 404, { key, deleted: reply.found, ...via });
    return send(response, 200, { key, value: reply.value, ...(op === 'put' ? { replaced: reply.found } : {}), ...via });
  }

  async function config(method: string, path: string, url: URL, request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (path === '') {
      if (method !== 'GET') throw new HttpError(405, 'GET /api/config, or GET|PUT /api/config/<path>');
      return send(response, 200, { config: node.config.get(), updatable: node.config.updatablePaths().map((segments) => segments.join('.')) });
    }
    if (!CONFIG_PATH.test(path)) throw new HttpError(400, 'a config path is dot-separated names, such as kv.maxValueBytes');
    if (method === 'GET') {
      try {
        const consistent = url.searchParams.get('consistent') === 'true';
        const value = consistent ? await node.config.getWithConsensus(path) : node.config.get(path);
        return send(response, 200, { path, value, consistent, node: node.id });
      } catch (error) {
        throw configErrorStatus(error);
      }
    }
    if (method !== 'PUT') throw new HttpError(405, `${method} is not served here: GET or PUT`);
    const value = bodyValue(await readBody(request));
    try {
      // Checked here against the allow-list and the schema, then committed through Raft;
      // resolves once this node has applied it (every other node applies it in log order).
      await node.config.setClusterWide(path, value);
    } catch (error) {
      throw configErrorStatus(error);
    }
    return send(response, 200, { path, value: node.config.get(path), appliedOn: node.id });
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(request.url ?? '/', `http://${HOST}:${port}`);
    } catch {
      // A request target that is not a URL path (`//[`): the client's mistake, not the server's.
      throw new HttpError(400, 'the request target is not a valid path');
    }
    const path = url.pathname;
    // HEAD as GET (Node leaves the body out): uptime checks and `curl -I` ask with HEAD.
    if ((method === 'GET' || method === 'HEAD') && (path === '/' || path === '/index.html')) {
      response.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        // Self-contained: nothing is loaded from anywhere but the demo's own nodes.
        'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self' http://127.0.0.1:* http://localhost:*; base-uri 'none'; form-action 'none'",
      });
      response.end(options.dashboardHtml);
      return;
    }
    if (path === '/favicon.ico') {
      response.writeHead(204).end();
      return;
    }
    if (!path.startsWith('/api')) throw new HttpError(404, `nothing at ${path}; the API is under /api`);
    const rest = path.slice('/api'.length);
    const segment = (prefix: string): string | null => (rest.startsWith(prefix) ? decodeURIComponent(rest.slice(prefix.length)) : null);

    if (rest === '' || rest === '/') {
      return send(response, 200, {
        node: node.id,
        endpoints: [
          'GET|PUT|DELETE /api/kv/:key   (PUT body: the value, JSON or text)',
          'GET /api/config   GET /api/config/:path[?consistent=true]   PUT /api/config/:path (body: the value)',
          'GET /api/status   GET /api/health   GET /api/cluster   GET /api/services   GET /api/events',
          'GET /api/dashboard   GET /api/nodes   GET /api/nodes/:name   POST /api/nodes/:name/kill   POST /api/nodes/:name/partition?seconds=15   POST /api/workers/crash',
        ],
      });
    }
    const key = segment('/kv/');
    if (key !== null) return kv(method, key, request, response);
    if (rest === '/config' || rest.startsWith('/config/')) return config(method, segment('/config/') ?? '', url, request, response);
    if (method === 'GET') {
      switch (rest) {
        case '/status':
          return send(response, 200, node.status());
        case '/health':
          return send(response, 200, node.health());
        case '/cluster':
          return send(response, 200, await node.clusterStatus({ timeoutMs: 1000 }));
        case '/services':
          return send(response, 200, feed.services());
        case '/events':
          return send(response, 200, feed.events());
        case '/dashboard':
          return send(response, 200, await feed.snapshot());
        case '/nodes':
          return send(response, 200, { nodes: options.lifecycle(), answeredBy: node.id });
        default: {
          const named = /^\/nodes\/([A-Za-z0-9_-]{1,63})$/.exec(rest);
          const entry = named === null ? undefined : launch.roster.find((candidate) => candidate.name === named[1]);
          if (named !== null && entry === undefined) throw new HttpError(404, `no node named ${named[1]!} in this demo`);
          // The orchestrator's word on the node's process, as this node last heard it (null without an orchestrator).
          if (entry !== undefined) return send(response, 200, { ...entry, process: processOf(entry.name), answeredBy: node.id });
          throw new HttpError(404, `nothing at GET ${path}`);
        }
      }
    }
    if (method === 'POST') {
      const kill = /^\/nodes\/([A-Za-z0-9_-]{1,63})\/kill$/.exec(rest);
      if (kill !== null) {
        const name = kill[1]!;
        if (!launch.roster.some((entry) => entry.name === name)) throw new HttpError(404, `no node named ${name} in this demo`);
        const answer = await options.requestKill(name);
        const failed = notActed(answer, 'kill', name);
        if (failed !== null) throw failed;
        const result = answer as ActionResult;
        if (result.outcome === 'refused') return send(response, 409, { error: result.reason, process: result.process });
        if (result.outcome === 'done') {
          return send(response, 200, { killed: name, pid: result.pid, signal: 'SIGKILL', askedVia: node.id, process: result.process, note: 'its process has exited; the orchestrator starts it again at process.restartAt' });
        }
        // Not applied yet: this node's own kill (signalled once this answer is out), or an exit
        // not seen in time. Location is a node that will still be there to say what happened.
        const location = followUrl(name, name === launch.name);
        return send(response, 202, { killing: name, pid: result.pid, askedVia: node.id, status: location, note: 'SIGKILL follows this answer; GET status shows the process go and come back' }, location);
      }
      const partition = /^\/nodes\/([A-Za-z0-9_-]{1,63})\/partition$/.exec(rest);
      if (partition !== null) {
        const name = partition[1]!;
        if (!launch.roster.some((entry) => entry.name === name)) throw new HttpError(404, `no node named ${name} in this demo`);
        const seconds = Number(url.searchParams.get('seconds') ?? DEFAULT_PARTITION_S);
        if (!Number.isInteger(seconds) || seconds < 1 || seconds > 120) throw new HttpError(400, 'seconds must be an integer from 1 to 120');
        const answer = await options.requestPartition(name, seconds);
        const failed = notActed(answer, 'partition', name);
        if (failed !== null) throw failed;
        const result = answer as ActionResult;
        if (result.outcome === 'refused') return send(response, 409, { error: result.reason, process: result.process });
        // Accepted, not yet applied: every node closes its links across the cut as it hears of it.
        const location = followUrl(name, false);
        return send(response, 202, { partitioning: name, seconds, until: result.process.partitionedUntil, askedVia: node.id, status: location, note: 'every node closes the cluster links that cross the cut, and closes them again whenever they come back, until it ends' }, location);
      }
      if (rest === '/workers/crash') {
        const waitMs = Math.ceil(lastCrashAt + CRASH_INTERVAL_MS - performance.now());
        if (waitMs > 0) {
          response.setHeader('retry-after', String(Math.ceil(waitMs / 1000)));
          throw new HttpError(429, `one worker crash a second on this node, so that its supervisor (20 restarts in 10 s) never gives up: try again in ${waitMs} ms`);
        }
        lastCrashAt = performance.now();
        const pid = await options.crashWorker();
        if (pid === null) throw new HttpError(503, 'no kv worker runs on this node right now');
        // Sent, not yet applied: the worker throws when it takes the message. The registry shows it go and its replacement come.
        const location = `${selfUrl}/api/services`;
        return send(response, 202, { crashed: pid, node: node.id, status: location, note: 'its supervisor starts a new one' }, location);
      }
    }
    throw new HttpError(404, `nothing at ${method} ${path}`);
  }

  const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS }, (request, response) => {
    const origin = request.headers.origin;
    if (!allowedHosts.has(request.headers.host ?? '')) {
      send(response, 421, { error: `this server answers requests to ${HOST}:${port} only` });
      return;
    }
    if (origin !== undefined) {
      if (!allowedOrigins.has(origin)) {
        send(response, 403, { error: 'cross-origin requests are accepted from the demo nodes only' });
        return;
      }
      response.setHeader('access-control-allow-origin', origin);
      response.setHeader('vary', 'origin');
    }
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { 'access-control-allow-methods': 'GET, PUT, DELETE, POST', 'access-control-allow-headers': 'content-type', 'access-control-max-age': '600' });
      response.end();
      return;
    }
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      if (error instanceof HttpError && error.status === 413) response.setHeader('connection', 'close');
      if (error instanceof HttpError) send(response, error.status, { error: error.message, ...(error.code === undefined ? {} : { code: error.code }) });
      else if (error instanceof URIError) send(response, 400, { error: 'malformed percent-encoding in the path' });
      else send(response, 500, { error: FoundationError.from(error).message });
    });
  });
  server.keepAliveTimeout = 5000;
  // Past the cap, Node closes a new connection as it is accepted.
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
