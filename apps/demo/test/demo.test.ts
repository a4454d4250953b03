// The whole demo, as `npm start` runs it: the orchestrator and five node processes on loopback
// (ports chosen by the OS), started once for this file. First the HTTP API, through one node
// and read back through others; then the dashboard in Debian's headless chromium, driven by
// playwright-core: it loads, shows five nodes, and shows a node go down and come back after
// its Kill button sent it SIGKILL.
//
// Cleanup: the demo runs in its own process group; afterAll stops it gracefully and then kills
// the group, and the demo also stops itself when this process goes away (IPC disconnect).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { killGroup, startDemo } from '../src/demo-process';
import { HEADERS_TIMEOUT_MS, MAX_CONNECTIONS } from '../src/node/http-server';
import type { RunningDemo } from '../src/demo-process';

const appDirectory = join(__dirname, '..');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const WORKERS_PER_NODE = 2;

let demo: RunningDemo | null = null;

function running(): RunningDemo {
  if (demo === null) throw new Error('the demo did not start');
  return demo;
}

function urlOf(name: string): string {
  const entry = running().ready.nodes.find((node) => node.name === name);
  if (entry === undefined) throw new Error(`no node ${name}`);
  return entry.httpUrl;
}

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** The Location header: where a 202 says to look for the outcome. */
  readonly location: string | null;
}

async function call(method: string, url: string, body?: string): Promise<Reply> {
  const response = await fetch(url, { method, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(15_000) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, location: response.headers.get('location') };
}

/** The status of a request whose target is sent exactly as given (fetch would normalise it). */
function rawStatus(base: string, target: string, method = 'GET'): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: hostname, port: Number(port), path: target, method }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

/** Polls `probe` until it returns a value (not undefined); fails with `what` and the last value seen. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** `expect(reply).toMatchObject(expected)`, whose failure shows the whole reply (the error a node answered with). */
function expectReply(reply: Reply, expected: Record<string, unknown>): void {
  try {
    expect(reply).toMatchObject(expected);
  } catch (error) {
    if (error instanceof Error) error.message += `\nthe whole reply: ${JSON.stringify(reply)}`;
    throw error;
  }
}

/** A test body whose failure carries the demo's last output (its nodes' logs among it), for CI. */
function withDemoOutput(body: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (error) {
      if (error instanceof Error && demo !== null) error.message += `\n--- the demo's last output ---\n${demo.output().split('\n').slice(-80).join('\n')}`;
      throw error;
    }
  };
}

beforeAll(async () => {
  demo = await startDemo({ appDirectory, args: ['--restart-delay', '2', '--workers', String(WORKERS_PER_NODE), '--no-traffic'], timeoutMs: 75_000 });
}, 80_000);

afterAll(async () => {
  if (demo === null) return;
  await demo.stop(10_000);
  killGroup(demo.child);
}, 20_000);

describe('the HTTP API', () => {
  it('puts through one node, reads through another, deletes through a third', withDemoOutput(async () => {
    const value = { hello: 'cluster', n: 1 };
    expectReply(await call('PUT', `${urlOf('alpha')}/api/kv/api-test`, JSON.stringify(value)), { status: 200, body: { key: 'api-test', value, replaced: false } });

    // GET is a linearizable read through Raft: it sees the write at once, from any node.
    expectReply(await call('GET', `${urlOf('gamma')}/api/kv/api-test`), { status: 200, body: { key: 'api-test', value } });

    expectReply(await call('PUT', `${urlOf('delta')}/api/kv/api-test`, 'plain text'), { status: 200, body: { value: 'plain text', replaced: true } });
    expectReply(await call('GET', `${urlOf('epsilon')}/api/kv/api-test`), { status: 200, body: { value: 'plain text' } });

    expectReply(await call('DELETE', `${urlOf('epsilon')}/api/kv/api-test`), { status: 200, body: { deleted: true } });
    expectReply(await call('GET', `${urlOf('beta')}/api/kv/api-test`), { status: 404, body: { found: false } });
    expectReply(await call('DELETE', `${urlOf('beta')}/api/kv/api-test`), { status: 404, body: { deleted: false } });
  }), 30_000);

  it('refuses bad keys, empty bodies and null values with 400, bodies over 64 KiB with 413, and unknown routes with 404', withDemoOutput(async () => {
    expect((await call('PUT', `${urlOf('alpha')}/api/kv/${encodeURIComponent('no spaces')}`, '1')).status).toBe(400);
    expect((await call('PUT', `${urlOf('alpha')}/api/kv/__proto__`, '1')).status).toBe(400);
    expect((await call('PUT', `${urlOf('alpha')}/api/kv/empty`, '')).status).toBe(400);
    expect((await call('PUT', `${urlOf('alpha')}/api/kv/nothing`, 'null')).status).toBe(400);
    expect((await call('POST', `${urlOf('alpha')}/api/kv/key`, '1')).status).toBe(405);
    expect((await call('PUT', `${urlOf('alpha')}/api/kv/huge`, 'x'.repeat(100 * 1024))).status).toBe(413);
    expect((await call('GET', `${urlOf('alpha')}/api/nowhere`)).status).toBe(404);
    // Review findings: nesting JSON.parse takes but serialising cannot was a 503 (retry me), and a
    // request target that is not a URL path was a 500.
    const deep = '['.repeat(30_000) + ']'.repeat(30_000);
    expect((await call('PUT', `${urlOf('alpha')}/api/kv/deep`, deep)).status).toBe(400);
    expect(await rawStatus(urlOf('alpha'), '//[')).toBe(400);
    // Review finding: HEAD of the dashboard (what uptime checks send) was a 404.
    expect(await rawStatus(urlOf('alpha'), '/', 'HEAD')).toBe(200);
  }), 30_000);

  it('answers 408 and closes a connection that trickles its headers for longer than the headers timeout', withDemoOutput(async () => {
    // Review finding: Node's defaults (60 s for the headers, checked every 30 s) let a client that
    // sends a header line now and then hold a connection for minutes.
    const { hostname, port } = new URL(urlOf('gamma'));
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.write(`GET /api HTTP/1.1\r\nHost: ${hostname}:${port}\r\n`);
    const trickle = setInterval(() => socket.write(`x-trickle: ${Date.now()}\r\n`), 500);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('close', () => resolve());
        socket.once('error', reject);
      });
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
    expect(received.startsWith('HTTP/1.1 408')).toBe(true);
  }), HEADERS_TIMEOUT_MS + 15_000);

  it(`holds at most ${MAX_CONNECTIONS} connections at once, and serves again once they go`, withDemoOutput(async () => {
    const { hostname, port } = new URL(urlOf('delta'));
    const opened = MAX_CONNECTIONS + 64;
    const sockets: Socket[] = [];
    let closedByServer = 0;
    await Promise.all(Array.from({ length: opened }, () => new Promise<void>((resolve) => {
      const socket = connect(Number(port), hostname, () => resolve());
      socket.on('error', () => undefined);
      socket.on('close', () => {
        closedByServer += 1;
        resolve();
      });
      sockets.push(socket);
    })));
    // The server closes each connection past the cap as it accepts it; give it the time to.
    await eventually('the server to close the connections past the cap', async () => (closedByServer >= opened - MAX_CONNECTIONS ? true : undefined), 10_000);
    expect(opened - closedByServer).toBeLessThanOrEqual(MAX_CONNECTIONS);
    for (const socket of sockets) socket.destroy();
    await eventually('delta to serve again', async () => ((await call('GET', `${urlOf('delta')}/api`)).status === 200 ? true : undefined), 10_000);
  }), 30_000);

  it('changes a config value cluster-wide: set through one node, enforced by the workers of every node', withDemoOutput(async () => {
    // The demo itself changed kv.routing through a learner while it started; every node applies
    // it in log order, so a local read sees it once that node has heard of the commit.
    for (const name of ['alpha', 'beta', 'gamma', 'delta', 'epsilon']) {
      await eventually(`${name} to apply kv.routing = least-loaded`, async () => ((await call('GET', `${urlOf(name)}/api/config/kv.routing`)).body.value === 'least-loaded' ? true : undefined), 10_000);
    }
    expectReply(await call('PUT', `${urlOf('beta')}/api/config/kv.maxValueBytes`, '16'), { status: 200, body: { path: 'kv.maxValueBytes', value: 16 } });
    // A consensus read on another node sees it at once.
    expect((await call('GET', `${urlOf('epsilon')}/api/config/kv.maxValueBytes?consistent=true`)).body).toMatchObject({ value: 16, consistent: true });
    // Every node applies it in log order; its workers then refuse larger values.
    for (const name of ['alpha', 'gamma', 'delta']) {
      await eventually(`${name} to apply kv.maxValueBytes = 16`, async () => ((await call('GET', `${urlOf(name)}/api/config/kv.maxValueBytes`)).body.value === 16 ? true : undefined));
    }
    const tooLarge = await call('PUT', `${urlOf('delta')}/api/kv/large`, JSON.stringify('x'.repeat(40)));
    expect(tooLarge.status).toBe(413);
    expectReply(await call('PUT', `${urlOf('beta')}/api/config/kv.routing`, 'fastest'), { status: 422 });
    // A misspelt path is refused by the schema, not committed as a setting of its own.
    expectReply(await call('PUT', `${urlOf('gamma')}/api/config/kv.maxValuebytes`, '64'), { status: 422 });
    expect((await call('PUT', `${urlOf('beta')}/api/config/other.thing`, '1')).status).toBe(403);
    expect((await call('PUT', `${urlOf('alpha')}/api/config/kv.maxValueBytes`, '1024')).status).toBe(200);
  }), 30_000);

  it('emits a kv.written event for every write, heard on every node', withDemoOutput(async () => {
    expect((await call('PUT', `${urlOf('gamma')}/api/kv/evented`, '42')).status).toBe(200);
    for (const name of ['alpha', 'epsilon']) {
      const event = await eventually(`${name} to hear the kv.written event`, async () => {
        const events = (await call('GET', `${urlOf(name)}/api/events`)).body as unknown as { type: string; data: { key: string; op: string; via: string } }[];
        return events.find((candidate) => candidate.data.key === 'evented');
      });
      expect(event).toMatchObject({ type: 'kv.written', data: { op: 'put', via: expect.stringContaining('gamma@') } });
    }
  }), 30_000);

  it('lists the supervised workers by capability, and a crashed worker is replaced by its supervisor', withDemoOutput(async () => {
    type Services = { name: string; instances: { node: string; capabilities: string[]; metadata: Record<string, unknown> }[] }[];
    const services = async (): Promise<Services> => (await call('GET', `${urlOf('gamma')}/api/services`)).body as unknown as Services;
    const workers = async (): Promise<Services[number]['instances']> => (await services()).find((service) => service.name === 'kv-worker')?.instances ?? [];
    const all = await eventually('every worker in the registry', async () => ((await workers()).length === 5 * WORKERS_PER_NODE ? workers() : undefined));
    expect(new Set(all.map((instance) => instance.node.split('@')[0])).size).toBe(5);
    expect(all.every((instance) => instance.capabilities.includes('kv'))).toBe(true);

    const crash = await call('POST', `${urlOf('beta')}/api/workers/crash`);
    // 202: the worker throws when it takes the message; Location is where its replacement shows.
    expectReply(crash, { status: 202, location: `${urlOf('beta')}/api/services` });
    const crashed = String(crash.body.crashed);
    await eventually('the crashed worker to be replaced', async () => {
      const now = await workers();
      return now.length === 5 * WORKERS_PER_NODE && !now.some((instance) => String((instance as { target?: unknown }).target) === crashed) ? true : undefined;
    });
    await eventually("beta's kv-http entry to count the restart", async () => {
      const http = (await services()).find((service) => service.name === 'kv-http')?.instances.find((instance) => instance.node.startsWith('beta@'));
      return Number(http?.metadata.workerRestarts ?? 0) >= 1 ? true : undefined;
    });
  }), 30_000);

  it('crashes at most one worker a second per node (429 meanwhile), so that no burst of requests wears its supervisor out', withDemoOutput(async () => {
    // The supervisor gives up after 20 restarts in 10 s: 21 crashes asked at once made it give
    // up, and the node answered every later crash with a 500 (it asked the supervisor it had
    // started, gone although the root supervisor had started another).
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 30; attempt += 1) {
      const reply = await fetch(`${urlOf('delta')}/api/workers/crash`, { method: 'POST', signal: AbortSignal.timeout(15_000) });
      statuses.push(reply.status);
      if (reply.status === 429) expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      await reply.body?.cancel();
    }
    expect(statuses.filter((status) => status !== 202 && status !== 429)).toEqual([]);
    expect(statuses).toContain(429);
    // A crash asked once the second is over is taken, and delta's workers are all back.
    await eventually('a later crash to be taken', async () => ((await call('POST', `${urlOf('delta')}/api/workers/crash`)).status === 202 ? true : undefined));
    await eventually("delta's workers to be back", async () => {
      const services = (await call('GET', `${urlOf('delta')}/api/services`)).body as unknown as { name: string; instances: { node: string }[] }[];
      const mine = services.find((service) => service.name === 'kv-worker')?.instances.filter((instance) => instance.node.startsWith('delta@')) ?? [];
      return mine.length === WORKERS_PER_NODE ? true : undefined;
    });
  }), 30_000);
});

describe('the partition', () => {
  it("cuts a node off: the others drop it from their membership, and take it back when the cut ends", withDemoOutput(async () => {
    type Status = { membership: { members: string[] } };
    const membersOf = async (name: string): Promise<string[]> => ((await call('GET', `${urlOf(name)}/api/status`)).body as unknown as Status).membership.members.map((id) => id.split('@')[0]!);
    // 202: the orchestrator took it, and every node closes its links as it hears; Location says where to follow it.
    const cut = await call('POST', `${urlOf('alpha')}/api/nodes/gamma/partition?seconds=5`);
    expectReply(cut, { status: 202, body: { partitioning: 'gamma', seconds: 5 }, location: `${urlOf('alpha')}/api/nodes/gamma` });
    expect((await call('GET', cut.location!)).body).toMatchObject({ name: 'gamma', process: { state: 'running', partitionedUntil: expect.any(Number) } });
    // Review finding: a second cut while the first runs did nothing, and was answered 202 all the same.
    expectReply(await call('POST', `${urlOf('beta')}/api/nodes/gamma/partition?seconds=30`), { status: 409, body: { process: { name: 'gamma' } } });
    await eventually('alpha and delta to drop gamma', async () => (!(await membersOf('alpha')).includes('gamma') && !(await membersOf('delta')).includes('gamma') ? true : undefined), 10_000);
    expect(await membersOf('gamma')).not.toContain('alpha');
    // The cluster keeps serving without it (alpha and beta are a majority of the voters).
    expect((await call('PUT', `${urlOf('alpha')}/api/kv/during-partition`, '1')).status).toBe(200);
    await eventually('gamma back in alpha and delta membership', async () => ((await membersOf('alpha')).includes('gamma') && (await membersOf('delta')).includes('gamma') ? true : undefined), 20_000);
    await eventually('gamma to catch up on the write made without it', async () => ((await call('GET', `${urlOf('gamma')}/api/kv/during-partition`)).status === 200 ? true : undefined), 20_000);
  }), 40_000);
});

describe('kill through the API', () => {
  type Process = { state: string; pid: number | null; restarts: number };
  const processOf = async (url: string): Promise<Process> => ((await call('GET', url)).body as { process: Process }).process;

  // Review finding: a kill was answered 202 whatever the orchestrator made of it, even when
  // there was nothing to kill (the node already down), with no way to learn what happened.
  it('answers 200 once the process is gone, 409 when there is nothing to kill, and 202 with where to look when a node is asked to kill itself', withDemoOutput(async () => {
    // delta cannot report its own death: 202, and Location is another node's view of it.
    const own = await call('POST', `${urlOf('delta')}/api/nodes/delta/kill`);
    expectReply(own, { status: 202, body: { killing: 'delta' } });
    expect(own.location).toMatch(/\/api\/nodes\/delta$/);
    expect(own.location!.startsWith(urlOf('delta'))).toBe(false);
    // Going or gone: nothing to kill, and the reply says so.
    expectReply(await call('POST', `${urlOf('beta')}/api/nodes/delta/kill`), { status: 409 });
    await eventually('delta back after its own kill', async () => {
      const seen = await processOf(own.location!);
      return seen.state === 'running' && seen.restarts === 1 ? true : undefined;
    }, 40_000);

    // Asked of another node: answered once the orchestrator saw the process exit.
    const before = await processOf(`${urlOf('beta')}/api/nodes/delta`);
    const killed = await call('POST', `${urlOf('beta')}/api/nodes/delta/kill`);
    expectReply(killed, { status: 200, body: { killed: 'delta', pid: before.pid, signal: 'SIGKILL', process: { state: 'killed', pid: null, restartAt: expect.any(Number) } } });
    expectReply(await call('POST', `${urlOf('alpha')}/api/nodes/delta/kill`), { status: 409, body: { process: { state: 'killed' } } });
    expectReply(await call('POST', `${urlOf('alpha')}/api/nodes/nobody/kill`), { status: 404 });
    await eventually('delta back after the second kill', async () => {
      const seen = await processOf(`${urlOf('alpha')}/api/nodes/delta`);
      return seen.state === 'running' && seen.restarts === 2 ? true : undefined;
    }, 40_000);
  }), 90_000);
});

describe('the dashboard in headless chromium', () => {
  let browser: Browser | null = null;

  afterAll(async () => {
    await browser?.close();
  });

  async function stateOf(page: Page, name: string): Promise<string | null> {
    return page.locator(`#nodes tr[data-node="${name}"]`).getAttribute('data-state', { timeout: 2000 });
  }

  it('loads, shows five nodes up, and shows a killed node go down and come back', withDemoOutput(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or point CHROMIUM at one`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(running().ready.dashboardUrl);

    await eventually('five nodes up on the page', async () => ((await page.locator('#nodes tr[data-state="up"]').count()) === 5 ? true : undefined));
    expect(await page.locator('#nodes tr[data-node]').count()).toBe(5);
    expect(await page.locator('#graph [data-graph-node]').count()).toBe(5);
    expect(await page.locator('#graph line').count()).toBeGreaterThan(0);
    expect(await page.locator('#nodes tr[data-role="leader"]').count()).toBe(1);
    expect(await page.locator('#services tr[data-service="kv-worker"]').textContent()).toContain(String(5 * WORKERS_PER_NODE));

    // epsilon, not alpha: the page keeps talking to the node that served it.
    await page.locator('#nodes tr[data-node="epsilon"] button[data-action="kill"]').click();
    await eventually('epsilon shown down', async () => ((await stateOf(page, 'epsilon')) !== 'up' ? true : undefined), 15_000);
    expect(await page.locator('#summary').textContent()).not.toContain('5 of 5');
    await eventually('epsilon back up after its restart', async () => ((await stateOf(page, 'epsilon')) === 'up' ? true : undefined), 40_000);
    expect(await page.locator('#nodes tr[data-node="epsilon"]').textContent()).toContain('restarted 1×');
    expect(problems).toEqual([]);
  }), 60_000);
});

describe('stopping', () => {
  it('stops every process of the demo on Ctrl-C (SIGINT to the whole process group, as a terminal sends it)', withDemoOutput(async () => {
    const { child } = running();
    const pid = child.pid!;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    process.kill(-pid, 'SIGINT');
    expect(await exited).toBe(0);
    expect(running().output()).toContain('Stopped in');
    // The orchestrator waited for each node to exit before it did: the group is empty.
    const groupAlive = (): boolean => {
      try {
        process.kill(-pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await eventually('the process group to be empty', async () => (groupAlive() ? undefined : true), 5_000);
  }), 30_000);
});
