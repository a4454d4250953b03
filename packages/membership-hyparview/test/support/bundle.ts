// Bundles a child-process entry with esbuild, as tooling/scripts/run-bench.mjs bundles
// benchmarks: @foundation/* from their sources, everything else left to node_modules. Starting
// a bundle costs a fraction of what compiling through a TypeScript loader in every child does.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';

export interface Bundle {
  readonly file: string;
  remove(): void;
}

function workspaceSources(packagesDir: string): Plugin {
  return {
    name: 'workspace-sources',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^[^./]/ }, (args) => {
        const match = /^@foundation\/([a-z0-9-]+)$/.exec(args.path);
        if (match !== null) return { path: join(packagesDir, match[1]!, 'src', 'index.ts') };
        return { path: args.path, external: true };
      });
    },
  };
}

/** Bundles `entry` into `<packageDir>/.bench-build/…` (so its imports resolve from node_modules). */
export async function bundleEntry(entry: string, packageDir: string): Promise<Bundle> {
  const root = resolve(packageDir, '.bench-build');
  mkdirSync(root, { recursive: true });
  const scratch = mkdtempSync(join(root, 'child-'));
  const file = join(scratch, 'child.mjs');
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: file,
    logLevel: 'warning',
    tsconfig: join(packageDir, 'tsconfig.json'),
    plugins: [workspaceSources(resolve(packageDir, '..'))],
  });
  return { file, remove: () => rmSync(scratch, { recursive: true, force: true }) };
}
