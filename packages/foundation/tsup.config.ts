import { libraryConfig } from '@foundation/scripts/tsup';

export default libraryConfig();
