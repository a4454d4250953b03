// The package generator, run as users run it (a child process), and a check that no package
// has drifted from the template it was generated from.
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repositoryRoot = resolve(__dirname, '../../..');
const script = join(repositoryRoot, 'tooling/scripts/new-package.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'foundation-new-package-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Manifest {
  name: string;
  type: string;
  sideEffects: boolean;
  files: string[];
  main: string;
  module: string;
  types: string;
  exports: Record<string, unknown>;
  scripts: Record<string, string>;
  engines: Record<string, string>;
}

function generate(name: string, directory: string): void {
  execFileSync('node', [script, name, '--dir', directory, '--no-install', '--description', 'A "quoted" test package'], { encoding: 'utf8' });
}

function manifest(directory: string): Manifest {
  return JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as Manifest;
}

describe('npm run new-package', () => {
  it('scaffolds a package that follows the package contract', () => {
    const directory = join(scratch, 'one');
    generate('rate-limiter', directory);
    const root = join(directory, 'rate-limiter');
    for (const file of ['package.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json', 'tsup.config.ts', 'jest.config.cjs', 'src/index.ts']) {
      expect(existsSync(join(root, file))).toBe(true);
    }
    const generated = manifest(root);
    expect(generated.name).toBe('@foundation/rate-limiter');
    expect(generated.sideEffects).toBe(false);
    expect(generated.files).toEqual(['dist']);
    expect(generated.exports).toEqual({
      '.': {
        import: { types: './dist/index.d.ts', default: './dist/index.js' },
        require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
      },
      './package.json': './package.json',
    });
    expect(Object.keys(generated.scripts).sort()).toEqual(['build', 'lint', 'test', 'typecheck']);
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('# @foundation/rate-limiter');
    expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))).toMatchObject({ description: 'A "quoted" test package' });
  });

  it.each([
    ['an invalid name', ['Bad_Name']],
    ['a missing name', []],
    ['an unknown option', ['fine-name', '--frobnicate']],
  ])('refuses %s', (_label, args) => {
    const result = spawnSync('node', [script, ...args, '--dir', join(scratch, 'refused'), '--no-install'], { encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(existsSync(join(scratch, 'refused', 'Bad_Name'))).toBe(false);
  });

  it('refuses to overwrite an existing package', () => {
    const directory = join(scratch, 'twice');
    generate('twice', directory);
    const again = spawnSync('node', [script, 'twice', '--dir', directory, '--no-install'], { encoding: 'utf8' });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('already exists');
  });
});

describe('every package still matches the template', () => {
  const packagesDir = join(repositoryRoot, 'packages');
  const names = readdirSync(packagesDir).filter((name) => existsSync(join(packagesDir, name, 'package.json')));

  it.each(names)('%s', (name) => {
    const directory = join(scratch, 'drift');
    generate(name, directory);
    const fresh = join(directory, name);
    const actual = join(packagesDir, name);
    expect(readFileSync(join(actual, 'tsconfig.build.json'), 'utf8')).toBe(readFileSync(join(fresh, 'tsconfig.build.json'), 'utf8'));
    // A package may add entries (a worker, a binary) but builds through the shared preset.
    expect(readFileSync(join(actual, 'tsup.config.ts'), 'utf8')).toContain("from '@foundation/scripts/tsup'");
    expect(readFileSync(join(actual, 'tsup.config.ts'), 'utf8')).toContain('libraryConfig(');
    const expected = manifest(fresh);
    const real = manifest(actual);
    for (const key of ['type', 'sideEffects', 'files', 'main', 'module', 'types', 'exports', 'engines'] as const) {
      expect({ [key]: real[key] }).toEqual({ [key]: expected[key] });
    }
    for (const [script, command] of Object.entries(expected.scripts)) expect({ [script]: real.scripts[script] }).toEqual({ [script]: command });
    expect(readFileSync(join(actual, "README.md"), "utf8")).toMatch(new RegExp(`^# ${real.name}\n`));
  });
});
