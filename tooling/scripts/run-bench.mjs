#!/usr/bin/env node
// Runs a TypeScript benchmark the way users run the package: bundled by esbuild (as tsup
// bundles the published build, without name-keeping wrappers), then executed by plain node.
// Running benchmarks through a TypeScript loader instead measured up to 30% slower.
//
//   node tooling/scripts/run-bench.mjs bench/index.ts [args...]     (from a package directory)
//   BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' ...          (extra flags for node)
//   BENCH_KEEP_BUILD=1 ...      (keeps the bundle and prints its path, to read a profile's lines)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: run-bench.mjs ENTRY.ts [args...]');
  process.exit(2);
}
// The bundle sits inside the package so that its external imports resolve from node_modules.
mkdirSync(resolve('.bench-build'), { recursive: true });
const scratch = mkdtempSync(join(resolve('.bench-build'), 'run-'));
const outfile = join(scratch, 'bench.mjs');
let status;
try {
  // Worker entries a package starts beside its bundle (bench/entries.json: {"thread/name": "src/…"}),
  // bundled the same way, under the names its build gives them.
  const extraEntries = existsSync(resolve('bench/entries.json')) ? JSON.parse(readFileSync(resolve('bench/entries.json'), 'utf8')) : {};
  const entryPoints = { bench: resolve(entry) };
  for (const [name, source] of Object.entries(extraEntries)) entryPoints[name] = resolve(source);
  await build({
    entryPoints,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outdir: scratch,
    outExtension: { '.js': '.mjs' },
    sourcemap: 'inline',
    logLevel: 'warning',
    tsconfig: resolve('tsconfig.json'),
    plugins: [workspaceSources()],
  });
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((flag) => flag !== '');
  const result = spawnSync(process.execPath, ['--enable-source-maps', ...nodeArgs, outfile, ...args], { stdio: 'inherit' });
  status = result.status ?? 1;
} finally {
  if (process.env.BENCH_KEEP_BUILD) console.error(`bundle kept: ${outfile}`);
  else rmSync(scratch, { recursive: true, force: true });
}
process.exit(status);

/**
 * Bundles @foundation/* from their sources (as tests do); every other package stays external
 * and loads from node_modules at run time (native modules among them).
 */
function workspaceSources() {
  const packagesDir = resolve(import.meta.dirname, '../../packages');
  return {
    name: 'workspace-sources',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^[^./]/ }, (resolveArgs) => {
        const match = /^@foundation\/([a-z0-9-]+)$/.exec(resolveArgs.path);
        if (match) return { path: join(packagesDir, match[1], 'src', 'index.ts') };
        if (resolveArgs.path === 'foundation') return { path: join(packagesDir, 'foundation', 'src', 'index.ts') };
        return { path: resolveArgs.path, external: true };
      });
    },
  };
}
