// Root ESLint config: one pass over every workspace (`npm run lint`).
import { createConfig } from '@foundation/eslint-config';

export default createConfig({ rootDir: import.meta.dirname, typeChecked: true });
