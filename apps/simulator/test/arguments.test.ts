import { describe, expect, it } from '@jest/globals';
import { DEFAULT_FAILURE_RATES, DEFAULT_HEALING_ROUNDS, parseArguments } from '../src/arguments';
import { UsageError } from '../src/usage-error';

describe('parseArguments', () => {
  it('defaults to the paper: 10,000 nodes, failures 10%–95%, healing rounds 0, 1, 2, 5, 10', () => {
    const args = parseArguments([]);
    expect(args).toEqual({
      nodes: 10_000,
      seed: 42,
      failureRates: DEFAULT_FAILURE_RATES,
      healingRounds: DEFAULT_HEALING_ROUNDS,
      broadcasts: 1,
      stabiliseRounds: 5,
      out: undefined,
      help: false,
    });
  });

  it('reads every option, with a space or an equals sign', () => {
    const args = parseArguments(['--nodes', '500', '--fail=0.5,0.1', '--seed', '7', '--rounds', '0,3', '--broadcasts=4', '--stabilise', '2', '--out', 'x/y']);
    expect(args).toMatchObject({ nodes: 500, failureRates: [0.1, 0.5], seed: 7, healingRounds: [0, 3], broadcasts: 4, stabiliseRounds: 2, out: 'x/y' });
  });

  it.each([
    ['0.8', [0.8]],
    ['.5', [0.5]],
    ['0', [0]],
    ['0.95,0.1', [0.1, 0.95]],
  ])('takes --fail %s', (text, rates) => {
    expect(parseArguments(['--fail', text]).failureRates).toEqual(rates);
  });

  it('takes the fewest nodes that leave a survivor at every rate', () => {
    expect(parseArguments(['--nodes', '11']).nodes).toBe(11);
    expect(parseArguments(['--nodes', '2', '--fail', '0.7']).failureRates).toEqual([0.7]);
    expect(parseArguments(['--nodes', '3', '--fail', '0.8']).failureRates).toEqual([0.8]);
  });

  it.each([
    ['10', [0, 1, 2, 5, 10]],
    ['3', [0, 1, 2, 3]],
    ['0', [0]],
    ['20', [0, 1, 2, 5, 10, 20]],
    ['5,0,1', [0, 1, 5]],
  ])('takes --rounds %s as the healing rounds %j', (text, rounds) => {
    expect(parseArguments(['--rounds', text]).healingRounds).toEqual(rounds);
  });

  it.each([
    [['--nodes', 'ten'], /--nodes must be an integer from 2 to 100000/],
    [['--nodes', '1'], /--nodes must be an integer/],
    [['--nodes', '1e4'], /--nodes must be an integer/],
    [['--fail', '1'], /no node would survive/],
    [['--fail', '80'], /--fail takes rates in \[0, 1\)/],
    [['--fail', '0.2,,0.3'], /--fail takes rates/],
    [['--fail', '-0.1'], /--fail takes rates/],
    [['--fail', '0.5,0.5'], /lists 0.5 twice/],
    [['--seed', '-3'], /--seed must be an integer/],
    [['--rounds', '1,x'], /--rounds must be an integer/],
    [['--broadcasts', '0'], /--broadcasts must be an integer from 1 to 1000/],
    [['--nodes'], /--nodes needs a value/],
    [['--nodes', '--seed', '3'], /--nodes needs a value/],
    [['--nodes', '10', '--nodes', '20'], /--nodes given twice/],
    [['--colour', 'red'], /unknown option --colour/],
    [['nodes'], /unexpected argument "nodes"/],
    [['--help=yes'], /--help takes no value/],
    // Below 1, yet rounded to every node: no survivor would be left to receive a broadcast.
    [['--nodes', '2', '--fail', '0.75'], /--fail 0.75 crashes all 2 nodes \(0.75 × 2 rounds to 2\)/],
    [['--nodes', '3', '--fail', '0.2,0.9'], /--fail 0.9 crashes all 3 nodes/],
    [['--nodes', '10'], /the default --fail rate 0.95 crashes all 10 nodes/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseArguments(argv)).toThrow(UsageError);
    expect(() => parseArguments(argv)).toThrow(message);
  });

  it('takes --help with a node count the default rates would crash whole, since --help runs nothing', () => {
    expect(parseArguments(['--help', '--nodes', '10'])).toMatchObject({ help: true, nodes: 10 });
    expect(parseArguments(['--nodes', '2', '--fail', '0.75', '--help'])).toMatchObject({ help: true });
  });
});
