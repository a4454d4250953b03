// Shared jest preset for every workspace package.
//
// Tests run against src/ directly: each `@foundation/NAME` import (and the unscoped
// `foundation` meta-package) is mapped to packages/NAME/src/index.ts, so `npm test`
// works on a fresh clone without a build step. TypeScript is compiled by @swc/jest.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const repositoryRoot = path.resolve(__dirname, '../..');
const clusterTests = require('./cluster-tests.cjs');
const packagesDir = path.join(repositoryRoot, 'packages');

function sourceEntries() {
  const mapper = {};
  if (!fs.existsSync(packagesDir)) return mapper;
  for (const entry of fs.readdirSync(packagesDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const manifestPath = path.join(packagesDir, entry.name, 'package.json');
    const sourceIndex = path.join(packagesDir, entry.name, 'src', 'index.ts');
    if (!fs.existsSync(manifestPath) || !fs.existsSync(sourceIndex)) continue;
    const { name } = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    mapper[`^${name.replace(/[/]/g, '\\/')}$`] = sourceIndex;
  }
  return mapper;
}

module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)sx?$': [
      require.resolve('@swc/jest'),
      {
        jsc: {
          parser: { syntax: 'typescript' },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      },
    ],
  },
  moduleNameMapper: sourceEntries(),
  // Properties without a seed of their own get a fixed one (see the file).
  setupFilesAfterEnv: [path.join(__dirname, 'fast-check-seed.cjs')],
  // Real-socket and child-process tests clean up after themselves; a leak is a bug to find,
  // so jest is not told to force-exit.
  // Applies when a package's jest runs on its own (npm test -w NAME); the root run over every
  // workspace reads testTimeout from the root jest.config.js only.
  testTimeout: 20_000,
  // FOUNDATION_TEST_GROUP=others leaves out the cluster tests (see cluster-tests.cjs), which
  // npm test then runs one at a time.
  testPathIgnorePatterns: ['/node_modules/', ...(process.env.FOUNDATION_TEST_GROUP === 'others' ? clusterTests.patterns : [])],
};
