import { libraryConfig } from '@foundation/scripts/tsup';

// A second entry: the `foundation` command line.
export default libraryConfig({ entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' } });
