#!/usr/bin/env node
// Scaffolds a new published package from tooling/scripts/template, so every package starts
// with the same contract: src/index.ts as the only entry, ESM + CJS + declarations from tsup,
// an exports map, sideEffects false, files ["dist"], jest through the shared preset.
//
//   npm run new-package -- NAME [--description "..."] [--dir packages] [--no-install]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repositoryRoot = resolve(here, '../..');
const templateDir = join(here, 'template');

const NAME_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

export function parseArguments(argv) {
  const options = { name: undefined, description: undefined, dir: join(repositoryRoot, 'packages'), install: true };
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index];
    if (argument === '--description') options.description = argv[++index];
    else if (argument === '--dir') options.dir = resolve(argv[++index] ?? '');
    else if (argument === '--no-install') options.install = false;
    else if (argument === '--help' || argument === '-h') options.help = true;
    else if (argument.startsWith('-')) throw new Error(`unknown option ${argument}`);
    else if (options.name === undefined) options.name = argument;
    else throw new Error(`unexpected argument ${argument}`);
  }
  return options;
}

function templateFiles(dir, prefix = '') {
  const files = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files.push(...templateFiles(path, join(prefix, entry)));
    else files.push(join(prefix, entry));
  }
  return files;
}

export function createPackage({ name, description, dir }) {
  if (!name || !NAME_PATTERN.test(name)) {
    throw new Error(`package name must be lower-case words joined by hyphens (got ${JSON.stringify(name)})`);
  }
  const target = join(dir, name);
  if (existsSync(target)) throw new Error(`${target} already exists`);
  const text = description ?? `Foundation ${name}`;
  const written = [];
  for (const file of templateFiles(templateDir)) {
    const content = readFileSync(join(templateDir, file), 'utf8')
      .replaceAll('__NAME__', name)
      .replaceAll('__DESCRIPTION__', text.replaceAll('"', '\\"'));
    const destination = join(target, file.replace(/\.tmpl$/, ''));
    mkdirSync(dirname(destination), { recursive: true });
    writeFileSync(destination, content);
    written.push(relative(target, destination));
  }
  return { target, files: written };
}

const invokedDirectly = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  try {
    const options = parseArguments(process.argv.slice(2));
    if (options.help || !options.name) {
      console.log('usage: npm run new-package -- NAME [--description "..."] [--dir DIR] [--no-install]');
      process.exit(options.help ? 0 : 2);
    }
    const { target, files } = createPackage(options);
    console.log(`created ${relative(process.cwd(), target) || target}:`);
    for (const file of files) console.log(`  ${file}`);
    if (options.install) {
      execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: repositoryRoot, stdio: 'inherit' });
    }
    console.log('next: write src/index.ts and its tests, fill in the README, and add a changeset (npm run changeset)');
  } catch (error) {
    console.error(`new-package: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
