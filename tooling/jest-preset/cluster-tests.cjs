// Test files that start a cluster of OS processes (nodes in child processes, on loopback or in
// network namespaces) and hold it to timeouts and heartbeats. `npm test` runs them one at a time
// after every other file (tooling/scripts/run-jest.mjs): two of them side by side on a 2-core
// machine, with a simulation on the other worker, starve each other's nodes of CPU for longer
// than the 'local' timing's 600 ms idle timeout, and links flap (seen in CI: a demo write not
// committed within 5 s while the chaos suite's and the cluster test's nodes ran beside it).
// `files` are relative to the repository root; `patterns` match exactly those files.
'use strict';

const path = require('node:path');

const files = [
  'apps/chaos/test/chaos.test.ts',
  'apps/demo/test/demo.test.ts',
  'apps/demo/test/parent-gone.test.ts',
  'packages/foundation/test/cli-status-deadline.test.ts',
  'packages/foundation/test/cli.test.ts',
  'packages/foundation/test/cluster.test.ts',
  'packages/foundation/test/learner-pause.test.ts',
  'packages/membership-hyparview/test/real-sockets.test.ts',
  'packages/raft/test/maelstrom.test.ts',
  'packages/raft/test/processes.test.ts',
];

const repositoryRoot = path.resolve(__dirname, '../..');
const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Jest path patterns matching exactly these files (for testPathIgnorePatterns and the command line). */
const patterns = files.map((file) => `^${escapeRegExp(path.join(repositoryRoot, file))}$`);

module.exports = { files, patterns };
