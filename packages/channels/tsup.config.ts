import { libraryConfig } from '@foundation/scripts/tsup';

// Two entries: the library, and the socket thread's worker (dist/thread/socket-worker.js and
// .cjs, found next to the bundle at run time). Only the library has declarations.
export default libraryConfig({
  entry: { index: 'src/index.ts', 'thread/socket-worker': 'src/driver/socket-worker.ts' },
  dts: { entry: { index: 'src/index.ts' } },
});
