// Progress on stderr: the phase, virtual time, live nodes and wall time elapsed. On a terminal one
// line is rewritten in place; otherwise (a pipe, a log) a line is written per phase and then at
// most every `intervalMs`.
import type { ProgressUpdate } from './experiment';

export interface ProgressOutput {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressReporter {
  update(update: ProgressUpdate): void;
  /** Ends the in-place line, if any. */
  finish(): void;
}

export function formatProgress(update: ProgressUpdate, elapsedMs: number): string {
  const detail = update.detail === '' ? '' : ` ${update.detail},`;
  return `[${update.phase}]${detail} simulated ${(update.simulatedMs / 1000).toFixed(1)} s, ${update.liveNodes}/${update.nodes} nodes live, ${(elapsedMs / 1000).toFixed(1)} s elapsed`;
}

export function createProgressReporter(output: ProgressOutput, now: () => number = () => performance.now()): ProgressReporter {
  const started = now();
  const interactive = output.isTTY === true;
  const intervalMs = interactive ? 200 : 5_000;
  let lastPhase = '';
  let lastWrite = Number.NEGATIVE_INFINITY;
  let open = false;
  return {
    update(update) {
      const time = now();
      const newPhase = update.phase !== lastPhase;
      if (!newPhase && time - lastWrite < intervalMs) return;
      lastPhase = update.phase;
      lastWrite = time;
      const line = formatProgress(update, time - started);
      if (interactive) {
        output.write(`\r\x1b[2K${line}`);
        open = true;
      } else output.write(`${line}\n`);
    },
    finish() {
      if (open) output.write('\n');
      open = false;
    },
  };
}
