// What every package's benchmarks share (BENCHMARKS.md): a readable table, then one JSON line
// last; percentiles and medians; the rate of a synchronous operation. Benchmarks import it
// relatively (it is never published); run-bench.mjs bundles it with them.

export interface Row {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

export interface ReportOptions {
  /** Decimals shown for values under 100. Default 1. */
  readonly digits?: number;
}

/**
 * Prints the rows as a table, then `{"bench":…,"node":…,"metrics":…}` as the last line. A row
 * whose value is NaN was not measured in this run (`--only` skipped it) and is left out of the
 * table; its metric is still in the JSON, as null.
 */
export function report(bench: string, allRows: readonly Row[], metrics: Record<string, number>, options: ReportOptions = {}): void {
  const rows = allRows.filter((row) => !Number.isNaN(row.value));
  const digits = options.digits ?? 1;
  const format = (value: number): string => (Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(digits));
  const nameWidth = Math.max(0, ...rows.map((row) => row.name.length));
  const valueWidth = Math.max(0, ...rows.map((row) => format(row.value).length));
  for (const row of rows) {
    console.log(`${row.name.padEnd(nameWidth)}  ${format(row.value).padStart(valueWidth)} ${row.unit}${row.note ? `  (${row.note})` : ''}`);
  }
  console.log(JSON.stringify({ bench, node: process.version, metrics }));
}

/** The `fraction` quantile (0..1) of an ascending array, by the nearest-rank method. */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

/** Runs `measure` `times` times and returns the median of what it measured. */
export function medianOf(times: number, measure: () => number): number {
  return median(Array.from({ length: times }, measure));
}

/** Operations per second of `operation`, called `count` times after a warm-up of the same size. */
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
