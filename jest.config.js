// Root jest configuration: one run over every workspace that has a jest.config.cjs.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const workspaceGroups = ['packages', 'apps', 'tooling'];
const projects = [];
for (const group of workspaceGroups) {
  const dir = path.join(__dirname, group);
  if (!fs.existsSync(dir)) continue;
  for (const name of fs.readdirSync(dir).sort()) {
    if (fs.existsSync(path.join(dir, name, 'jest.config.cjs'))) projects.push(`<rootDir>/${group}/${name}`);
  }
}

module.exports = {
  projects,
  maxWorkers: 2,
  // A global option: jest ignores it in a project's config (the preset's), so it is set here.
  // Real-socket, child-process and simulation tests need more than jest's 5 s under load.
  testTimeout: 20_000,
};
