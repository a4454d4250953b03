// Where the worker entry lives. In the published package it is `thread/worker-main.js` (ESM) or
// `.cjs` (CJS) next to the bundle that runs this code; from TypeScript sources (tests, tsx) it
// is `worker-main.ts` beside this file, and the worker must load TypeScript through tsx.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface WorkerEntry {
  readonly entry: string;
  /** The entry (and so the behavior modules) are TypeScript: the worker registers tsx first. */
  readonly typescript: boolean;
}

function currentFile(): string {
  // In ESM, import.meta.url; in the CJS build import.meta is empty and __filename is defined.
  const metaUrl: unknown = import.meta.url;
  return typeof metaUrl === 'string' ? fileURLToPath(metaUrl) : __filename;
}

export function defaultWorkerEntry(): WorkerEntry {
  const here = currentFile();
  if (here.endsWith('.ts')) return { entry: join(dirname(here), 'worker-main.ts'), typescript: true };
  const extension = here.endsWith('.cjs') ? '.cjs' : '.js';
  return { entry: join(dirname(here), 'thread', `worker-main${extension}`), typescript: false };
}
