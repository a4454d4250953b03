// The one build every published package uses: ESM + CJS + declarations from src/index.ts.
import { defineConfig } from 'tsup';

export function libraryConfig(overrides = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    tsconfig: 'tsconfig.build.json',
    ...overrides,
  });
}
