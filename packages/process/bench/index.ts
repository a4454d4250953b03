// npm run bench -w @foundation/process
//
// Each figure is the median of several runs, beside a baseline measured in the same run.
import { callLatency, promiseQueueLatency } from './calls';
import { millions, median, printJson, printTable, round } from './report';
import { emitterMany, spawnMany } from './spawn';
import { ecosystemStart, handRolledRestart, plainSpawns, supervisorRestart } from './supervision';
import { rawWorkerLatency, threadCallLatency } from './threads';
import { arrayQueueThroughput, eventEmitterThroughput, externalThroughput, processThroughput } from './throughput';

const RUNS = 5;
const MESSAGES = 5_000_000;

async function medianOf(runs: number, measure: () => Promise<number> | number): Promise<number> {
  const values: number[] = [];
  for (let run = 0; run < runs; run += 1) values.push(await measure());
  return median(values);
}

async function medianLatency(runs: number, measure: () => Promise<{ p50: number; p99: number }>): Promise<{ p50: number; p99: number }> {
  const p50s: number[] = [];
  const p99s: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const { p50, p99 } = await measure();
    p50s.push(p50);
    p99s.push(p99);
  }
  return { p50: median(p50s), p99: median(p99s) };
}

const processRate = await medianOf(RUNS, () => processThroughput(MESSAGES));
const externalRate = await medianOf(RUNS, () => externalThroughput(MESSAGES));
const arrayRate = await medianOf(RUNS, () => arrayQueueThroughput(MESSAGES));
const emitterRate = await medianOf(RUNS, () => eventEmitterThroughput(MESSAGES));
const call = await medianLatency(RUNS, () => callLatency(100_000));
const promiseCall = await medianLatency(RUNS, () => promiseQueueLatency(100_000));
const spawnRuns = [];
for (let run = 0; run < 3; run += 1) spawnRuns.push(await spawnMany(100_000));
const spawnMs = median(spawnRuns.map((figures) => figures.ms));
const spawnBytes = median(spawnRuns.map((figures) => figures.bytesPerProcess));
const emitterRuns = [0, 1, 2].map(() => emitterMany(100_000));
const emitterMs = median(emitterRuns.map((figures) => figures.ms));
const emitterBytes = median(emitterRuns.map((figures) => figures.bytesPerProcess));
const restart = await medianLatency(3, () => supervisorRestart(2_000));
const handRestart = await medianLatency(3, () => handRolledRestart(2_000));
const ecosystemMs = await medianOf(RUNS, () => ecosystemStart(1000));
const plainMs = await medianOf(RUNS, () => plainSpawns(1000));
const threadCall = await medianLatency(3, () => threadCallLatency(5_000));
const rawWorker = await medianLatency(3, () => rawWorkerLatency(5_000));

const us = (value: number): string => `${value.toFixed(2)} µs`;
const ms = (value: number): string => `${value.toFixed(1)} ms`;
printTable([
  { name: 'send+handle, process to process', value: millions(processRate), baseline: `array queue + microtask ${millions(arrayRate)}`, target: '≥ 5M msgs/s' },
  { name: 'send+handle, from outside processes', value: millions(externalRate), baseline: `EventEmitter (sync) ${millions(emitterRate)}`, target: '≥ 5M msgs/s' },
  { name: 'call round trip p50 / p99', value: `${us(call.p50)} / ${us(call.p99)}`, baseline: `promise per request ${us(promiseCall.p50)} / ${us(promiseCall.p99)}`, target: 'p50 < 2 µs' },
  { name: 'spawn 100,000 processes', value: ms(spawnMs), baseline: `100,000 EventEmitters ${ms(emitterMs)}`, target: '< 1 s' },
  { name: 'heap per idle process', value: `${Math.round(spawnBytes)} B`, baseline: `per EventEmitter ${Math.round(emitterBytes)} B`, target: '≤ 1,024 B' },
  { name: 'supervisor restart p50 / p99', value: `${us(restart.p50)} / ${us(restart.p99)}`, baseline: `hand-rolled link+respawn ${us(handRestart.p50)} / ${us(handRestart.p99)}`, target: 'p50 < 100 µs' },
  { name: 'ecosystem of 1,000 workers', value: ms(ecosystemMs), baseline: `1,001 plain spawns ${ms(plainMs)}`, target: '< 100 ms' },
  { name: 'thread call round trip p50 / p99', value: `${us(threadCall.p50)} / ${us(threadCall.p99)}`, baseline: `raw postMessage ping-pong ${us(rawWorker.p50)} / ${us(rawWorker.p99)}` },
]);
printJson('process', {
  send_handle_process_per_s: Math.round(processRate),
  send_handle_external_per_s: Math.round(externalRate),
  baseline_array_queue_per_s: Math.round(arrayRate),
  baseline_event_emitter_per_s: Math.round(emitterRate),
  call_rtt_p50_us: round(call.p50, 3),
  call_rtt_p99_us: round(call.p99, 3),
  baseline_promise_call_p50_us: round(promiseCall.p50, 3),
  baseline_promise_call_p99_us: round(promiseCall.p99, 3),
  spawn_100k_ms: round(spawnMs, 1),
  idle_process_heap_bytes: Math.round(spawnBytes),
  baseline_emitters_100k_ms: round(emitterMs, 1),
  baseline_emitter_heap_bytes: Math.round(emitterBytes),
  supervisor_restart_p50_us: round(restart.p50, 2),
  supervisor_restart_p99_us: round(restart.p99, 2),
  baseline_hand_restart_p50_us: round(handRestart.p50, 2),
  baseline_hand_restart_p99_us: round(handRestart.p99, 2),
  ecosystem_1000_workers_ms: round(ecosystemMs, 2),
  baseline_1001_spawns_ms: round(plainMs, 2),
  thread_call_p50_us: round(threadCall.p50, 1),
  thread_call_p99_us: round(threadCall.p99, 1),
  baseline_worker_ping_p50_us: round(rawWorker.p50, 1),
  baseline_worker_ping_p99_us: round(rawWorker.p99, 1),
});
