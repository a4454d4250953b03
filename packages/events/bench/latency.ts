// Percentiles of many timed calls.
export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Times `operation` `samples` times (after `samples / 10` warm-up calls); microseconds. */
export function latencies(samples: number, operation: (index: number) => unknown): Percentiles {
  let sink = 0;
  for (let index = 0; index < samples / 10; index += 1) if (operation(index) === sink) sink += 1;
  const times = new Float64Array(samples);
  for (let index = 0; index < samples; index += 1) {
    const started = process.hrtime.bigint();
    if (operation(index) === sink) sink += 1;
    times[index] = Number(process.hrtime.bigint() - started) / 1000;
  }
  times.sort();
  if (sink === -1) console.log('unreachable');
  return { p50: times[Math.floor(samples * 0.5)]!, p99: times[Math.floor(samples * 0.99)]!, max: times[samples - 1]! };
}
