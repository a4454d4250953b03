// Benchmark output as BENCHMARKS.md asks: a readable table, then one JSON line last.
export interface Row {
  readonly name: string;
  readonly value: string;
  readonly baseline?: string;
  readonly target?: string;
}

export function printTable(rows: readonly Row[]): void {
  const header: Row = { name: 'measure', value: 'figure', baseline: 'in-run baseline', target: 'target' };
  const all = [header, ...rows];
  const width = (pick: (row: Row) => string | undefined): number => Math.max(...all.map((row) => (pick(row) ?? '').length));
  const widths = [width((row) => row.name), width((row) => row.value), width((row) => row.baseline), width((row) => row.target)];
  for (const row of all) {
    console.log(
      [row.name.padEnd(widths[0]!), row.value.padStart(widths[1]!), (row.baseline ?? '').padEnd(widths[2]!), row.target ?? ''].join('  '),
    );
  }
}

export function printJson(bench: string, metrics: Record<string, number>): void {
  console.log(JSON.stringify({ bench, node: process.version, metrics }));
}

export { median, percentile } from '../../../tooling/scripts/bench';

export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function millions(perSecond: number): string {
  return `${(perSecond / 1e6).toFixed(2)}M msgs/s`;
}
