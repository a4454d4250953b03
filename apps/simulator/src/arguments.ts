// Command-line arguments of the simulator: parsed strictly, every mistake a UsageError that
// names the option and what it accepts.
import { UsageError } from './usage-error';

/** Failure rates of the HyParView paper's figure (10% to 95% of the nodes crashing at once). */
export const DEFAULT_FAILURE_RATES: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
/** Healing rounds after which a broadcast is sent, as the paper plots them. */
export const DEFAULT_HEALING_ROUNDS: readonly number[] = [0, 1, 2, 5, 10];

export interface SimulatorArguments {
  readonly nodes: number;
  readonly seed: number;
  /** Shares of the nodes that crash at once, each in [0, 1), ascending, distinct. */
  readonly failureRates: readonly number[];
  /** Healing rounds after the crash at which broadcasts are sent, ascending, distinct. */
  readonly healingRounds: readonly number[];
  /** Broadcasts sent at each healing round, each from a random live node. */
  readonly broadcasts: number;
  /** Shuffle rounds the overlay runs after the last join, before the failures. */
  readonly stabiliseRounds: number;
  /** Where the report goes; undefined: reports/<seed>-<nodes>/ in the app directory. */
  readonly out: string | undefined;
  readonly help: boolean;
}

export const USAGE = `Usage: npm run simulate -- [options]

Runs HyParView membership with Plumtree broadcast on simulated nodes (in @foundation/testkit's
simulation), crashes a share of them at once and measures how many of the survivors a broadcast
reaches after 0, 1, 2, 5 and 10 healing rounds, as the HyParView paper's figure does.

Options:
  --nodes N          number of nodes (2–100000, as the heap allows; default 10000)
  --fail RATES       share of nodes that crash at once: one rate or a comma list, each in [0, 1)
                     (default 0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95)
  --seed N           seed of the simulation, a non-negative integer (default 42)
  --rounds R         healing rounds at which broadcasts are sent: a comma list (e.g. 0,1,2,5,10),
                     or one number N for the paper's points up to N plus N itself (default 10)
  --broadcasts N     broadcasts sent at each of those rounds, from random live nodes (1–1000; default 1)
  --stabilise N      shuffle rounds between the last join and the failures (0–1000; default 5)
  --out DIR          directory for report.json and reliability.svg
                     (default apps/simulator/reports/<seed>-<nodes>/)
  --help             this text
`;

const OPTIONS = new Set(['nodes', 'fail', 'seed', 'rounds', 'broadcasts', 'stabilise', 'out', 'help']);

/** Nodes that crash at `rate`: the share of `nodes`, rounded to the nearest node. */
export function crashedNodes(nodes: number, rate: number): number {
  return Math.round(nodes * rate);
}

function integer(option: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--${option} must be an integer from ${min} to ${max} (got "${text}")`);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new UsageError(`--${option} must be an integer from ${min} to ${max} (got "${text}")`);
  return value;
}

function ascendingDistinct(option: string, values: number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  for (let index = 1; index < sorted.length; index += 1) {
    if (sorted[index] === sorted[index - 1]) throw new UsageError(`--${option} lists ${sorted[index]} twice`);
  }
  return sorted;
}

function failureRates(text: string): number[] {
  const rates = text.split(',').map((part) => {
    const trimmed = part.trim();
    if (!/^(0|1)?(\.\d+)?$/.test(trimmed) || trimmed === '' || trimmed === '.') {
      throw new UsageError(`--fail takes rates in [0, 1) such as 0.8 or 0.1,0.5,0.9 (got "${part}")`);
    }
    const rate = Number(trimmed);
    if (!(rate >= 0 && rate < 1)) throw new UsageError(`--fail takes rates in [0, 1): with ${trimmed} no node would survive to receive a broadcast`);
    return rate;
  });
  return ascendingDistinct('fail', rates);
}

function healingRounds(text: string): number[] {
  if (text.includes(',')) return ascendingDistinct('rounds', text.split(',').map((part) => integer('rounds', part.trim(), 0, 1000)));
  const last = integer('rounds', text, 0, 1000);
  return ascendingDistinct('rounds', [...new Set([...DEFAULT_HEALING_ROUNDS.filter((round) => round < last), last])]);
}

/** Parses the arguments after the script name; throws UsageError on anything unknown, missing or out of range. */
export function parseArguments(argv: readonly string[]): SimulatorArguments {
  const values = new Map<string, string>();
  let help = false;
  for (let index = 0; index < argv.length; index += 1) {
    const token = argv[index]!;
    if (!token.startsWith('--')) throw new UsageError(`unexpected argument "${token}" (options start with --)`);
    const equals = token.indexOf('=');
    const name = token.slice(2, equals === -1 ? undefined : equals);
    if (!OPTIONS.has(name)) throw new UsageError(`unknown option --${name}`);
    if (name === 'help') {
      if (equals !== -1) throw new UsageError('--help takes no value');
      help = true;
      continue;
    }
    let value: string | undefined;
    if (equals !== -1) value = token.slice(equals + 1);
    else {
      value = argv[index + 1];
      index += 1;
    }
    if (value === undefined || value === '' || (equals === -1 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    if (values.has(name)) throw new UsageError(`--${name} given twice`);
    values.set(name, value);
  }
  const text = (name: string): string | undefined => values.get(name);
  const nodes = text('nodes') === undefined ? 10_000 : integer('nodes', text('nodes')!, 2, 100_000);
  const rates = text('fail') === undefined ? [...DEFAULT_FAILURE_RATES] : failureRates(text('fail')!);
  // A rate below 1 can still round to every node when there are few of them. Not with --help,
  // which runs nothing: `--help --nodes 10` met the default rates and exited 2.
  for (const rate of help ? [] : rates) {
    if (crashedNodes(nodes, rate) >= nodes) {
      const which = text('fail') === undefined ? `the default --fail rate ${rate}` : `--fail ${rate}`;
      throw new UsageError(`${which} crashes all ${nodes} nodes (${rate} × ${nodes} rounds to ${nodes}): no node would survive to receive a broadcast; give lower rates or more nodes`);
    }
  }
  return {
    nodes,
    seed: text('seed') === undefined ? 42 : integer('seed', text('seed')!, 0, 2 ** 32 - 1),
    failureRates: rates,
    healingRounds: text('rounds') === undefined ? [...DEFAULT_HEALING_ROUNDS] : healingRounds(text('rounds')!),
    broadcasts: text('broadcasts') === undefined ? 1 : integer('broadcasts', text('broadcasts')!, 1, 1000),
    stabiliseRounds: text('stabilise') === undefined ? 5 : integer('stabilise', text('stabilise')!, 0, 1000),
    out: text('out'),
    help,
  };
}
