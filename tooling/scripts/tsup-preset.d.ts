import type { Options } from 'tsup';

/** The shared library build: ESM + CJS + declarations from src/index.ts. */
export declare function libraryConfig(overrides?: Options): Options | Options[];
