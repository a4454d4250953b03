#!/usr/bin/env node
// The package contract, checked on what users would install:
//   1. build every published package (turbo, dependencies first);
//   2. publint and are-the-types-wrong on each;
//   3. pack each, then install its tarball, with the tarballs of its @foundation/* dependencies
//      and nothing else from the workspace, into an empty project, and import it from ESM and
//      from CJS: both must load and expose the same names.
//
//   npm run check:packages [-- NAME ...]     (names without the @foundation/ scope)
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const packagesDir = join(repositoryRoot, 'packages');
const bin = (name) => join(repositoryRoot, 'node_modules', '.bin', name);

function readManifest(dir) {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
}

function publishedPackages() {
  const found = new Map();
  for (const entry of readdirSync(packagesDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(packagesDir, entry.name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const manifest = readManifest(dir);
    if (manifest.private === true) continue;
    found.set(manifest.name, { dir, manifest });
  }
  return found;
}

function workspaceDependencies(name, all, seen = new Set()) {
  const { manifest } = all.get(name);
  for (const field of ['dependencies', 'peerDependencies']) {
    for (const dependency of Object.keys(manifest[field] ?? {})) {
      if (all.has(dependency) && !seen.has(dependency)) {
        seen.add(dependency);
        workspaceDependencies(dependency, all, seen);
      }
    }
  }
  return seen;
}

function run(command, args, options = {}) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

function attempt(label, action) {
  try {
    action();
    return { label, ok: true };
  } catch (error) {
    const output = [error.stdout, error.stderr].filter(Boolean).join('\n').trim();
    return { label, ok: false, detail: output || error.message };
  }
}

const IMPORT_CHECK = `
const esm = await import(process.argv[1]);
const { createRequire } = await import('node:module');
const cjs = createRequire(process.cwd() + '/')(process.argv[1]);
const esmNames = Object.keys(esm).filter((name) => name !== 'default' && name !== 'module.exports').sort();
const cjsNames = Object.keys(cjs).sort();
if (esmNames.length === 0) throw new Error('the ESM entry exports nothing');
if (JSON.stringify(esmNames) !== JSON.stringify(cjsNames)) {
  throw new Error('ESM and CJS entries differ:\\n  esm: ' + esmNames.join(', ') + '\\n  cjs: ' + cjsNames.join(', '));
}
console.log(esmNames.length + ' exports, the same from ESM and CJS');
`;

function main() {
  const all = publishedPackages();
  const wanted = process.argv.slice(2).map((name) => (name.startsWith('@') || name === 'foundation' ? name : `@foundation/${name}`));
  const selected = wanted.length === 0 ? [...all.keys()] : wanted;
  for (const name of selected) if (!all.has(name)) throw new Error(`unknown package ${name}`);
  const toBuild = new Set(selected.flatMap((name) => [name, ...workspaceDependencies(name, all)]));

  console.log(`building ${[...toBuild].join(', ')}`);
  execFileSync(bin('turbo'), ['run', 'build', ...[...toBuild].map((name) => `--filter=${name}`)], {
    cwd: repositoryRoot,
    stdio: 'inherit',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
  });

  const scratch = mkdtempSync(join(tmpdir(), 'foundation-check-'));
  const tarballsDir = join(scratch, 'tarballs');
  mkdirSync(tarballsDir);
  const tarballs = new Map();
  for (const name of toBuild) {
    const output = run('npm', ['pack', '--json', '--pack-destination', tarballsDir], { cwd: all.get(name).dir });
    tarballs.set(name, join(tarballsDir, JSON.parse(output)[0].filename));
  }

  const results = [];
  for (const name of selected) {
    const { dir } = all.get(name);
    const checks = [];
    checks.push(attempt('publint', () => run(bin('publint'), ['run', dir, '--strict'])));
    checks.push(attempt('are-the-types-wrong', () => run(bin('attw'), [tarballs.get(name), '--format', 'ascii'])));
    const project = join(scratch, name.replace(/[@/]/g, '_'));
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '0.0.0' }, null, 2));
    const install = [name, ...workspaceDependencies(name, all)].map((dependency) => tarballs.get(dependency));
    checks.push(
      attempt('installs alone', () =>
        run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...install], { cwd: project }),
      ),
    );
    checks.push(attempt('imports from ESM and CJS', () => run('node', ['--input-type=module', '-e', IMPORT_CHECK, name], { cwd: project })));
    results.push({ name, checks });
  }
  rmSync(scratch, { recursive: true, force: true });

  let failed = 0;
  for (const { name, checks } of results) {
    for (const check of checks) {
      console.log(`${check.ok ? 'ok  ' : 'FAIL'}  ${name}  ${check.label}`);
      if (!check.ok) {
        failed += 1;
        console.log(check.detail.replace(/^/gm, '      '));
      }
    }
  }
  console.log(failed === 0 ? `check:packages: ${results.length} packages pass` : `check:packages: ${failed} checks failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
