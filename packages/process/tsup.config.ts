import { libraryConfig } from '@foundation/scripts/tsup';

// Two entries: the library, and the worker entry that thread-isolated processes run in
// (dist/thread/worker-main.js and .cjs, found next to the bundle at run time). Only the
// library has declarations.
export default libraryConfig({
  entry: { index: 'src/index.ts', 'thread/worker-main': 'src/thread/worker-main.ts' },
  dts: { entry: { index: 'src/index.ts' } },
});
