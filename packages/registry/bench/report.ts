// Benchmark output as BENCHMARKS.md asks: a readable table, then one JSON line last.
export interface Row {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

function formatNumber(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
}

export function report(bench: string, rows: readonly Row[], metrics: Record<string, number>): void {
  const nameWidth = Math.max(...rows.map((row) => row.name.length));
  const valueWidth = Math.max(...rows.map((row) => formatNumber(row.value).length));
  for (const row of rows) {
    console.log(`${row.name.padEnd(nameWidth)}  ${formatNumber(row.value).padStart(valueWidth)} ${row.unit}${row.note ? `  (${row.note})` : ''}`);
  }
  console.log(JSON.stringify({ bench, node: process.version, metrics }));
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
