// Benchmark output as BENCHMARKS.md asks: a readable table, then one JSON line last.
export interface Row {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

export function report(bench: string, rows: readonly Row[], metrics: Record<string, number>): void {
  const nameWidth = Math.max(...rows.map((row) => row.name.length));
  const valueWidth = Math.max(...rows.map((row) => formatNumber(row.value).length));
  for (const row of rows) {
    console.log(`${row.name.padEnd(nameWidth)}  ${formatNumber(row.value).padStart(valueWidth)} ${row.unit}${row.note ? `  (${row.note})` : ''}`);
  }
  console.log(JSON.stringify({ bench, node: process.version, metrics }));
}

function formatNumber(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
}

/** Runs `measure` `times` times and returns the median. */
export function median(times: number, measure: () => number): number {
  const values = Array.from({ length: times }, measure).sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
}

/** Operations per second of `operation`, called `count` times (after a warm-up of the same size). */
export function rate(count: number, operation: (index: number) => unknown): number {
  let sink = 0;
  const run = (): number => {
    const started = process.hrtime.bigint();
    for (let index = 0; index < count; index += 1) if (operation(index) === sink) sink += 1;
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  run();
  const seconds = run();
  if (sink === -1) console.log('unreachable');
  return count / seconds;
}
