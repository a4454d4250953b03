#!/usr/bin/env node
// The `foundation` binary. See commands.ts, or run `foundation --help`.
import { runCli } from './commands';

const stopSignal = (): Promise<void> =>
  new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

void runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  stopSignal,
}).then((code) => {
  process.exitCode = code;
});
