import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArguments } from '../src/arguments';
import { renderChart, textWidth } from '../src/chart';
import { runSimulator } from '../src/simulator';
import type { SimulatorRun } from '../src/simulator';
import { summaryTable } from '../src/report';
import type { Report } from '../src/report';
import { findAll, parseXml } from './support/xml';

const SEED = 7;
const directories: string[] = [];
function outDir(): string {
  const directory = mkdtempSync(join(tmpdir(), 'simulator-test-'));
  directories.push(directory);
  return directory;
}
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

/** The report without its wall-time and memory figures: what must not depend on the machine. */
function results(report: Report): Omit<Report, 'run'> {
  const { run: _run, ...rest } = report;
  return rest;
}

describe(`a 300-node run, 50% of the nodes failing (seed ${SEED})`, () => {
  let run: SimulatorRun;
  beforeAll(async () => {
    run = await runSimulator(parseArguments(['--nodes', '300', '--fail', '0.5', '--seed', String(SEED)]), outDir());
  });

  it(`heals: broadcasts after 2 or more healing rounds reach every live node, the overlay is one symmetric component (seed ${SEED})`, () => {
    const [failure] = run.report.failures;
    expect(failure).toBeDefined();
    expect(failure!.crashed).toBe(150);
    expect(failure!.live).toBe(150);
    // HyParView §5: with views sized log10(n) + 1 the overlay survives 50% failures connected,
    // and the passive view refills the active ones within a few shuffle periods.
    for (const round of [2, 5, 10]) expect(failure!.reliability[String(round)]).toBe(1);
    expect(failure!.reliability['0']).toBeGreaterThan(0.5);
    expect(failure!.overlayAfterHealing).toMatchObject({ liveNodes: 150, components: 1, largestComponentShare: 1, isolatedNodes: 0, symmetry: 1, deadEntries: 0 });
    // Failures are detected: entries naming crashed nodes are gone by the last healing round.
    const last = failure!.healing[failure!.healing.length - 1]!;
    expect(last.overlay.deadEntries).toBe(0);
    expect(failure!.healing[0]!.overlay.deadEntries).toBeGreaterThan(0);
  });

  it(`builds a connected, symmetric overlay before the failures, on which a broadcast reaches everyone (seed ${SEED})`, () => {
    expect(run.report.stable.overlay).toMatchObject({ liveNodes: 300, components: 1, largestComponentShare: 1, isolatedNodes: 0, symmetry: 1 });
    expect(run.report.stable.probe.reliability).toBe(1);
    expect(run.report.parameters.hyparview).toMatchObject({ activeViewSize: 4, passiveViewSize: 24, activeRandomWalkLength: 6, passiveRandomWalkLength: 3 });
  });

  it('writes report.json with the parameters, the seed and, per failure rate, reliability by healing round, overlay health and messages', () => {
    const written = JSON.parse(readFileSync(run.reportPath, 'utf8')) as Record<string, unknown>;
    expect(written).toEqual(JSON.parse(JSON.stringify(run.report)));
    const health = {
      liveNodes: expect.any(Number),
      components: expect.any(Number),
      largestComponentShare: expect.any(Number),
      isolatedNodes: expect.any(Number),
      symmetry: expect.any(Number),
      deadEntries: expect.any(Number),
      meanActiveView: expect.any(Number),
    };
    expect(written).toEqual({
      simulator: '@foundation-apps/simulator',
      seed: SEED,
      parameters: {
        nodes: 300,
        failureRates: [0.5],
        healingRounds: [0, 1, 2, 5, 10],
        broadcastsPerRound: 1,
        stabiliseRounds: 5,
        roundMs: 1000,
        joinSpacingMs: expect.any(Number),
        network: { latencyMs: { min: expect.any(Number), max: expect.any(Number) }, failureDetectionMs: expect.any(Number) },
        hyparview: expect.any(Object),
      },
      stable: { simulatedMs: expect.any(Number), overlay: health, probe: expect.any(Object), messages: expect.any(Object) },
      failures: [
        {
          rate: 0.5,
          crashed: 150,
          live: 150,
          reliability: { '0': expect.any(Number), '1': expect.any(Number), '2': 1, '5': 1, '10': 1 },
          healing: [0, 1, 2, 5, 10].map((round) => ({
            round,
            reliability: expect.any(Number),
            broadcasts: [{ origin: expect.stringMatching(/^n\d+$/), delivered: expect.any(Number), live: 150, reliability: expect.any(Number), lastHop: expect.any(Number) }],
            overlay: health,
          })),
          overlayAfterHealing: health,
          messages: {
            membership: expect.any(Number),
            broadcast: expect.any(Number),
            total: expect.any(Number),
            perLiveNode: expect.any(Number),
            plumtree: { gossipSent: expect.any(Number), ihaveSent: expect.any(Number), graftsSent: expect.any(Number), prunesSent: expect.any(Number), duplicates: expect.any(Number) },
            network: { sent: expect.any(Number), delivered: expect.any(Number), droppedNodeDown: expect.any(Number) },
          },
          simulatedMs: 11_000,
        },
      ],
      run: { wallMs: expect.any(Number), cpuMs: expect.any(Number), peakRssBytes: expect.any(Number), node: process.version },
    });
    const messages = run.report.failures[0]!.messages;
    expect(messages.total).toBe(messages.membership + messages.broadcast);
    expect(messages.membership).toBeGreaterThan(0);
    expect(messages.broadcast).toBeGreaterThan(0);
    expect(messages.plumtree.gossipSent).toBeGreaterThan(0);
  });

  it('writes a well-formed SVG chart with one line per healing round', () => {
    const svg = parseXml(readFileSync(run.chartPath, 'utf8'));
    expect(svg.name).toBe('svg');
    expect(svg.attributes['xmlns']).toBe('http://www.w3.org/2000/svg');
    const lines = findAll(svg, 'polyline');
    expect(lines.map((line) => line.attributes['data-round'])).toEqual(['0', '1', '2', '5', '10']);
    // One failure rate: one point per line, also drawn as a marker.
    for (const line of lines) expect(line.attributes['points']!.trim().split(/\s+/)).toHaveLength(1);
    expect(findAll(svg, 'circle')).toHaveLength(5);
    // The legend gives each round's value, since single points can overlap.
    const legend = findAll(svg, 'text').map((text) => text.text);
    expect(legend).toContain(`10 healing rounds: ${run.report.failures[0]!.reliability['10']! * 100}%`);
  });

  it('prints a summary table with a row per failure rate and a column per healing round', () => {
    const table = summaryTable(run.report);
    expect(table).toMatch(/failed\s+live\s+r@0\s+r@1\s+r@2\s+r@5\s+r@10\s+largest@11\s+isolated@11\s+symmetry@11\s+messages\s+per node/);
    expect(table).toMatch(/\n50%\s+150\s+\S+\s+\S+\s+100%\s+100%\s+100%\s+100%\s+0\s+100%\s+\d+/);
  });
});

describe('determinism', () => {
  const argv = ['--nodes', '120', '--fail', '0.3,0.8', '--rounds', '0,1,3', '--stabilise', '2', '--broadcasts', '2'];

  it('gives the same report for the same seed (seed 11) and another for another seed (seed 12)', async () => {
    const first = await runSimulator(parseArguments([...argv, '--seed', '11']), outDir());
    const second = await runSimulator(parseArguments([...argv, '--seed', '11']), outDir());
    const other = await runSimulator(parseArguments([...argv, '--seed', '12']), outDir());
    expect(results(second.report)).toEqual(results(first.report));
    expect(readFileSync(second.chartPath, 'utf8')).toBe(readFileSync(first.chartPath, 'utf8'));
    expect(results(other.report).failures).not.toEqual(results(first.report).failures);
  });
});

describe('the chart', () => {
  it('draws every failure rate on each line, escapes text, and stays well-formed', () => {
    const failure = (rate: number, reliability: Record<string, number>) => ({ rate, reliability }) as unknown as Report['failures'][number];
    const report = {
      seed: 3,
      parameters: { nodes: 1000, healingRounds: [0, 1, 10] },
      failures: [failure(0.1, { '0': 1, '1': 1, '10': 1 }), failure(0.5, { '0': 0.9, '1': 0.99, '10': 1 }), failure(0.95, { '0': 0.02, '1': 0.4, '10': 0.9 })],
    } as unknown as Report;
    const svg = parseXml(renderChart(report));
    const lines = findAll(svg, 'polyline');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line.attributes['points']!.trim().split(/\s+/)).toHaveLength(3);
    // The 0-round line's last point (95% failed, 2% reliability) sits near the bottom right of the plot.
    const [x, y] = lines[0]!.attributes['points']!.trim().split(/\s+/)[2]!.split(',').map(Number);
    expect(x).toBeGreaterThan(500);
    expect(y).toBeGreaterThan(400);
    expect(() => parseXml('<svg><g></svg>')).toThrow(/closes <g>/);
  });

  // Past about 21 healing rounds the legend, one entry 20 px below the other, ran off the bottom
  // of the chart (review finding).
  it.each([
    [5, 1],
    [21, 1],
    [22, 3],
    [60, 1],
    [60, 3],
    [1001, 3],
  ])('keeps the legend of %i healing rounds (%i failure rates) inside the chart, right of the plot, its entries apart, every round shown or counted', (count, rates) => {
    const rounds = Array.from({ length: count }, (_, index) => index);
    // Values with decimals, so that each entry is as long as it gets.
    const reliability = Object.fromEntries(rounds.map((round) => [String(round), 0.9967 - round / 100_000]));
    const report = {
      seed: 3,
      parameters: { nodes: 1000, healingRounds: rounds },
      failures: [0.1, 0.5, 0.95].slice(0, rates).map((rate) => ({ rate, reliability })),
    } as unknown as Report;
    const svg = parseXml(renderChart(report));
    const [, , width, height] = svg.attributes['viewBox']!.split(' ').map(Number) as [number, number, number, number];
    const plot = findAll(svg, 'rect').find((rect) => rect.attributes['fill'] === 'none')!;
    const plotRight = Number(plot.attributes['x']) + Number(plot.attributes['width']);
    // Each round's entry is drawn in the round's group; the heading and the count of rounds left out are legend text of their own.
    const groups = findAll(svg, 'g').filter((group) => group.attributes['class'] === 'healing-round');
    const inGroups = (name: string) => groups.flatMap((group) => findAll(group, name));
    const grouped = new Set(inGroups('text'));
    const notes = findAll(svg, 'text').filter((text) => text.attributes['class'] === 'legend' && !grouped.has(text));
    const legend = (name: string) => [...inGroups(name), ...(name === 'text' ? notes : [])];
    const boxes: { left: number; right: number; top: number; bottom: number; what: string }[] = [];
    for (const line of legend('line')) {
      const [x1, x2, y1] = ['x1', 'x2', 'y1'].map((name) => Number(line.attributes[name]));
      boxes.push({ left: Math.min(x1!, x2!), right: Math.max(x1!, x2!), top: y1! - 1, bottom: y1! + 1, what: `line at ${x1},${y1}` });
    }
    for (const text of legend('text')) {
      const [x, y] = ['x', 'y'].map((name) => Number(text.attributes[name]));
      // A 12 px font: about 9 px above the baseline, 3 below.
      boxes.push({ left: x!, right: x! + textWidth(text.text, 12), top: y! - 9, bottom: y! + 3, what: `"${text.text}" at ${x},${y}` });
    }
    for (const box of boxes) {
      expect({ box: box.what, inside: box.left > plotRight && box.right <= width && box.top >= 0 && box.bottom <= height }).toEqual({ box: box.what, inside: true });
    }
    for (const [index, box] of boxes.entries()) {
      for (const other of boxes.slice(index + 1)) {
        const apart = box.right <= other.left || other.right <= box.left || box.bottom <= other.top || other.bottom <= box.top;
        expect({ boxes: [box.what, other.what], apart }).toEqual({ boxes: [box.what, other.what], apart: true });
      }
    }
    // Each round has its entry, or is among those the legend counts as left out.
    const entries = groups.filter((group) => group.children.some((child) => child.name === 'text'));
    const more = notes.map((text) => /^\+ (\d+) more/.exec(text.text)).find((match) => match !== null);
    expect(entries.length + Number(more?.[1] ?? 0)).toBe(count);
    if (count <= 21) expect(legend('text').map((text) => text.text)).toContain(`1 healing round${rates === 1 ? ': 99.67%' : ''}`);
    if (count === 60 && rates === 3) expect(more).toBeUndefined();
  });
});
