// The `foundation` command line: start a node, or ask a running one about the cluster.
// Exit codes: 0 done, 1 the request failed (unreachable node, refused update), 2 bad usage.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CHANNELS_ERROR_CODES } from '@foundation/channels';
import { FoundationError } from '@foundation/core';
import { FOUNDATION_ERROR_CODES } from '../errors/codes';
import { startNode } from '../start-node';
import type { ClusterNodeStatus, NodeStatus } from '../start-node';
import { NAME, parseNodeId, resolveTls } from '../options';
import { connectToNode } from './remote';
import type { RemoteNode } from './remote';
import { formatDuration, renderTable } from './table';

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** Resolves when the user asks a started node to stop (SIGINT, SIGTERM). */
  readonly stopSignal: () => Promise<void>;
}

class UsageError extends Error {}

const HELP = `foundation: start a Foundation node, or ask a running one about its cluster

Usage:
  foundation start [--name N] [--host H] [--port P] [--seeds ID,ID] [--voters ID,ID]
                   [--data-dir DIR] [--timing local|lan] [--cluster NAME]
  foundation status             every node: Raft role, term, commit, members, processes
  foundation members            one node's membership: members, active and passive views
  foundation services           every registered service: node, health, capabilities
  foundation config get [PATH] [--consensus]
  foundation config set PATH VALUE      (VALUE is JSON, or else a string)

Options for the commands that ask a node:
  --node ID        the node to ask, name@host:port (default $FOUNDATION_NODE)
  --json           print JSON instead of a table
  --timeout MS     how long the whole command may take, connecting included
                   (default 5000; 10000 for config set)
  --cluster NAME   the cluster's name (default foundation)

The cluster's secret comes from $FOUNDATION_SECRET, or from the file named by --secret-file.
In a cluster with TLS, $FOUNDATION_TLS_CERT, $FOUNDATION_TLS_KEY and $FOUNDATION_TLS_CA name the
PEM files of a certificate from the cluster CA; its subject CN is the command's node name.
  foundation <command> --help   shows this help.
`;

const START_OPTIONS = {
  name: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  seeds: { type: 'string' },
  voters: { type: 'string' },
  'data-dir': { type: 'string' },
  timing: { type: 'string' },
  cluster: { type: 'string' },
  'secret-file': { type: 'string' },
  help: { type: 'boolean' },
} as const;

const ASK_OPTIONS = {
  node: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  cluster: { type: 'string' },
  'secret-file': { type: 'string' },
  consensus: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function secretFrom(values: { 'secret-file'?: string | undefined }, env: NodeJS.ProcessEnv): string | undefined {
  const file = values['secret-file'];
  if (file === undefined) return env.FOUNDATION_SECRET;
  // Bad usage, said with the file's name: the raw ENOENT exited 1, as if a node had answered.
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new UsageError(`--secret-file ${JSON.stringify(file)} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (secret === '') throw new UsageError(`--secret-file ${JSON.stringify(file)} is empty`);
  return secret;
}

/**
 * An option refused where it is used rather than here (by startNode: InvalidOptionsError; by the
 * transport: ChannelsConfigError), such as a secret under 16 bytes: bad usage, as the options
 * checked here are, not a failed request. Only for errors of this process, never a node's reply.
 */
function refusedOption(error: unknown): unknown {
  const refused = FoundationError.hasType(error, FOUNDATION_ERROR_CODES.invalidOptions) || FoundationError.hasType(error, CHANNELS_ERROR_CODES.invalidConfig);
  return refused ? new UsageError(error.message) : error;
}

/** The longest timer Node keeps: a longer delay fires after 1 ms. */
const MAX_TIMEOUT_MS = 2_147_483_647;

function integer(option: string, value: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  // Number('') and Number(' ') are 0: `--timeout=` is no value, not zero.
  const parsed = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > max) throw new UsageError(`--${option} must be an integer from 0 to ${max} (got ${JSON.stringify(value)})`);
  return parsed;
}

/**
 * How long the node asked for `status` may wait on its peers, out of the `leftMs` this command
 * still waits: less a fifth (at most 500 ms) for the node to answer and the answer to arrive, so
 * that a peer that does not answer shows as unreachable rather than leave no reply at all.
 */
function peerBudgetMs(leftMs: number): number {
  return leftMs - Math.min(500, Math.ceil(leftMs / 5));
}

/** Whether `code` is a control character other than newline and tab: C0, DEL or C1. */
const isControlCharacter = (code: number): boolean => (code < 0x20 && code !== 0x0a && code !== 0x09) || (code >= 0x7f && code <= 0x9f);

/**
 * `text` with each control character but newline and tab written as its `\uXXXX` escape (valid
 * in JSON too): what the command prints comes from the cluster (names, errors, config values any
 * member can set), and a terminal takes such characters as commands, to clear the screen,
 * retitle the window or rewrite what was printed before.
 */
function printable(text: string): string {
  let shown = '';
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    shown += isControlCharacter(code) ? `\\u${code.toString(16).padStart(4, '0')}` : text[index]!;
  }
  return shown;
}

/** Runs one command line; resolves with the exit code. */
export async function runCli(argv: readonly string[], terminal: CliIo): Promise<number> {
  const io: CliIo = { ...terminal, out: (text) => terminal.out(printable(text)), err: (text) => terminal.err(printable(text)) };
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      io.out(HELP);
      return command === undefined ? 2 : 0;
    }
    if (command === 'start') return await start(rest, io);
    if (command === 'status' || command === 'members' || command === 'services' || command === 'config') return await ask(command, rest, io);
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  } catch (error) {
    // parseArgs's errors carry codes ERR_PARSE_ARGS_*; checked by code, since a TypeError from
    // another realm (a test runner's) is no instance of this one's.
    const code = (error as { code?: unknown } | null)?.code;
    if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      io.err(`foundation: ${(error as Error).message}\nRun foundation --help for usage.\n`);
      return 2;
    }
    const failure = FoundationError.from(error);
    io.err(`foundation: ${failure.message}${failure.code === undefined ? '' : ` (code ${failure.code})`}\n`);
    return 1;
  }
}

async function start(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: START_OPTIONS, strict: true, allowPositionals: false });
  if (values.help === true) {
    io.out(HELP);
    return 0;
  }
  if (values.timing !== undefined && values.timing !== 'local' && values.timing !== 'lan') throw new UsageError('--timing must be local or lan');
  // Checked here rather than left to startNode, whose refusal would exit 1 as a failed request.
  if (values.name !== undefined && parseNodeId(values.name) === null && !NAME.test(values.name)) {
    throw new UsageError(`--name must be 1–63 letters, digits, ".", "_" and "-", or a node id name@host:port (got ${JSON.stringify(values.name)})`);
  }
  const port = integer('port', values.port, 65_535);
  const seeds = list(values.seeds);
  const voters = list(values.voters);
  for (const [option, ids] of [['seeds', seeds], ['voters', voters]] as const) {
    for (const id of ids ?? []) if (parseNodeId(id) === null) throw new UsageError(`--${option} holds ${JSON.stringify(id)}, not a node id name@host:port`);
  }
  const secret = secretFrom(values, io.env);
  // Heard from now on: a node still joining (for up to 30 s) stops on Ctrl-C or SIGTERM as one
  // that is up does, and exits 0, rather than be ended by the signal with nothing said.
  const stop = new AbortController();
  const stopAsked = io.stopSignal().then(() => stop.abort());
  const starting = startNode({
    ...(values.name === undefined ? {} : { name: values.name }),
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(port === undefined ? {} : { port }),
    ...(seeds === undefined ? {} : { seeds }),
    ...(voters === undefined ? {} : { voters }),
    ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }),
    ...(values.timing === undefined ? {} : { timing: values.timing }),
    ...(values.cluster === undefined ? {} : { cluster: values.cluster }),
    ...(secret === undefined ? {} : { secret }),
    signal: stop.signal,
  });
  const node = await starting.catch((error: unknown) => {
    if (stop.signal.aborted) return null;
    throw refusedOption(error);
  });
  if (node === null) {
    io.out(`stopped ${values.name ?? 'the node'} before it joined\n`);
    return 0;
  }
  // Errors no caller receives (Raft stopped by a failed write to its storage, an event from
  // another node that does not decode) are node errors, in telemetry: said here as they come,
  // or a node started from the command line failed in silence.
  node.telemetry.attach('foundation-cli-node-errors', ['foundation', 'node', 'error'], (_event, _measurements, { source, code, message }) => {
    io.err(`foundation: ${node.id}: ${String(source)} error: ${String(message)}${typeof code === 'number' || typeof code === 'string' ? ` (code ${code})` : ''}\n`);
  });
  io.out(`node ${node.id} is up at ${node.url}\n`);
  io.out(`ask it: FOUNDATION_NODE=${node.id} foundation status   (Ctrl-C stops it)\n`);
  await stopAsked;
  io.out(`stopping ${node.id}\n`);
  await node.stop();
  return 0;
}

/** An argument like -5 or -0.5: a value (config set limits.rate -5), not an option. */
const NEGATIVE_NUMBER = /^-\d/;

async function ask(command: 'status' | 'members' | 'services' | 'config', args: readonly string[], io: CliIo): Promise<number> {
  // parseArgs would refuse a negative number as an unknown option: it goes through under a
  // stand-in no argument can be (argv holds no NUL) and is put back after.
  const negatives = new Map<string, string>();
  const standIn = (arg: string): string => {
    if (!NEGATIVE_NUMBER.test(arg)) return arg;
    const key = `\0${negatives.size}`;
    negatives.set(key, arg);
    return key;
  };
  const parsed = parseArgs({ args: args.map(standIn), options: ASK_OPTIONS, strict: true, allowPositionals: true });
  const restore = <T>(arg: T): T => (typeof arg === 'string' ? ((negatives.get(arg) as T | undefined) ?? arg) : arg);
  const values = Object.fromEntries(Object.entries(parsed.values).map(([option, value]) => [option, restore(value)])) as typeof parsed.values;
  const positionals = parsed.positionals.map(restore);
  if (values.help === true) {
    io.out(HELP);
    return 0;
  }
  // Refused rather than ignored: `foundation members b@host:port` asked the node in --node or
  // FOUNDATION_NODE, and its answer read as b's.
  if (command !== 'config' && positionals.length > 0) throw new UsageError(`${command} takes no arguments (got ${JSON.stringify(positionals[0])}); the node to ask goes in --node`);
  if (values.consensus === true && (command !== 'config' || positionals[0] !== 'get')) throw new UsageError('--consensus is for config get');
  const target = values.node ?? io.env.FOUNDATION_NODE;
  if (target === undefined) throw new UsageError('which node? pass --node name@host:port or set FOUNDATION_NODE');
  if (parseNodeId(target) === null) throw new UsageError(`${values.node === undefined ? 'FOUNDATION_NODE' : '--node'} must be a node id name@host:port (got ${JSON.stringify(target)})`);
  const secret = secretFrom(values, io.env);
  if (secret === undefined) throw new UsageError("the cluster's secret is needed: set FOUNDATION_SECRET or pass --secret-file");
  const timeoutMs = integer('timeout', values.timeout, MAX_TIMEOUT_MS);
  // A write goes through Raft: it gets longer than a read unless --timeout says otherwise.
  const budgetMs = timeoutMs ?? (command === 'config' && positionals[0] === 'set' ? 10_000 : 5000);
  let request: (remote: RemoteNode) => Promise<{ json: unknown; text: string }>;
  switch (command) {
    case 'status':
      request = async (remote) => {
        const statuses = await remote.ask<ClusterNodeStatus[]>('foundation/cluster-status', { timeoutMs: peerBudgetMs(remote.leftMs()) });
        return { json: statuses, text: statusTable(statuses) };
      };
      break;
    case 'members':
      request = async (remote) => {
        const status = await remote.ask<NodeStatus>('foundation/status');
        return { json: status.membership, text: membersTable(status) };
      };
      break;
    case 'services':
      request = async (remote) => {
        const services = await remote.ask<ServiceRow[]>('foundation/services');
        return { json: services, text: servicesTable(services) };
      };
      break;
    case 'config':
      request = configRequest(positionals, values.consensus === true);
      break;
  }
  // Neither asks the node anything: what they refuse is this command's own options.
  let remote: RemoteNode;
  try {
    const tls = resolveTls(undefined, io.env);
    remote = await connectToNode({ node: target, secret, ...(tls === undefined ? {} : { tls }), ...(values.cluster === undefined ? {} : { cluster: values.cluster }), timeoutMs: budgetMs });
  } catch (error) {
    throw refusedOption(error);
  }
  try {
    const { json, text } = await request(remote);
    io.out(values.json === true ? `${JSON.stringify(json, null, 2)}\n` : text);
    return 0;
  } finally {
    await remote.close();
  }
}

interface ServiceRow {
  readonly name: string;
  readonly node: string;
  readonly health: string;
  readonly capabilities: readonly string[];
  readonly mode: string;
  readonly scope: string;
}

function configRequest(positionals: readonly string[], consensus: boolean): (remote: RemoteNode) => Promise<{ json: unknown; text: string }> {
  const [action, path, value, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected ${JSON.stringify(extra[0])}`);
  const show = (result: unknown): { json: unknown; text: string } => ({ json: result, text: `${typeof result === 'string' ? result : JSON.stringify(result, null, 2)}\n` });
  if (action === 'get') {
    if (value !== undefined) throw new UsageError('config get takes one path');
    if (consensus && path === undefined) throw new UsageError('config get --consensus needs a path');
    return async (remote) => show(await remote.ask(consensus ? 'foundation/config/get-with-consensus' : 'foundation/config/get', path === undefined ? {} : { path }));
  }
  if (action === 'set') {
    if (path === undefined || value === undefined) throw new UsageError('config set needs a path and a value');
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = value;
    }
    return async (remote) => show(await remote.ask('foundation/config/set', { path, value: parsed }));
  }
  throw new UsageError('config needs get or set');
}

function statusTable(statuses: readonly ClusterNodeStatus[]): string {
  const rows = statuses.map((entry) => {
    if (!('status' in entry)) return [entry.node, 'unreachable', '', '', '', '', '', '', entry.error];
    const { status } = entry;
    return [
      status.id,
      status.raft.role,
      String(status.raft.term),
      String(status.raft.commit),
      String(status.membership.members.length),
      status.membership.topology,
      String(status.processes),
      String(status.services),
      formatDuration(status.uptimeMs),
    ];
  });
  const leaders = new Set(statuses.flatMap((entry) => ('status' in entry && entry.status.raft.leader !== null ? [entry.status.raft.leader] : [])));
  const leader = leaders.size === 1 ? [...leaders][0]! : leaders.size === 0 ? 'none' : `disputed (${[...leaders].join(', ')})`;
  // A node that judges cluster-wide config writes with its own config (its defaults do not
  // validate alone) may take or refuse a write differently from the rest: said under the table,
  // as status() says it, so that it is seen where it matters.
  const ownJudges = statuses.flatMap((entry) => ('status' in entry && entry.status.configJudge?.judge === 'node' ? [`${entry.status.id} judges cluster-wide config writes with its own config: ${entry.status.configJudge.message} (${entry.status.configJudge.code})\n`] : []));
  return `${renderTable(['NODE', 'ROLE', 'TERM', 'COMMIT', 'MEMBERS', 'TOPOLOGY', 'PROCS', 'SERVICES', 'UPTIME'], rows)}leader: ${leader}\n${ownJudges.join('')}`;
}

function membersTable(status: NodeStatus): string {
  const active = new Set(status.membership.activeView);
  const passive = new Set(status.membership.passiveView);
  const rows = [...status.membership.members].sort().map((member) => [
    member,
    active.has(member) ? 'active' : passive.has(member) ? 'passive' : 'member',
    status.rttMs[member] === undefined ? '' : status.rttMs[member].toFixed(2),
  ]);
  return `${status.id}: ${status.membership.topology}, ${status.membership.members.length} members\n${renderTable(['MEMBER', 'VIEW', 'RTT MS'], rows)}`;
}

function servicesTable(services: readonly ServiceRow[]): string {
  const rows = [...services]
    .sort((left, right) => left.name.localeCompare(right.name) || left.node.localeCompare(right.node))
    .map((service) => [service.name, service.node, service.health, service.scope === 'global' ? 'global' : service.mode, service.capabilities.join(',')]);
  return renderTable(['SERVICE', 'NODE', 'HEALTH', 'MODE', 'CAPABILITIES'], rows);
}
