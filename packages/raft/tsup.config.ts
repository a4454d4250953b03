import { libraryConfig } from '@foundation/scripts/tsup';

// A second entry: the Maelstrom lin-kv node binary.
export default libraryConfig({ entry: { index: 'src/index.ts', 'lin-kv': 'src/maelstrom/lin-kv.ts' } });
