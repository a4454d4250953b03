// Shared ESLint flat config for the Foundation monorepo.
//
// Protocol cores (packages/*/src/core/**) are pure, deterministic state machines: time and
// randomness come in through an injected Clock and Random. The rules below make reading the
// real clock, real timers or real randomness there a lint error.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const CORE_FILES = ['packages/*/src/core/**/*.ts'];

const CORE_MESSAGE =
  'protocol cores are deterministic: take time from the injected Clock and randomness from the injected Random';

/** Member reads that are nondeterministic inside a protocol core. */
export const forbiddenCoreProperties = [
  { object: 'Date', property: 'now' },
  { object: 'performance', property: 'now' },
  { object: 'Math', property: 'random' },
  { object: 'process', property: 'hrtime' },
  { object: 'crypto', property: 'randomUUID' },
  { object: 'crypto', property: 'getRandomValues' },
  { object: 'crypto', property: 'randomBytes' },
  { object: 'globalThis', property: 'setTimeout' },
  { object: 'globalThis', property: 'setInterval' },
  { object: 'globalThis', property: 'setImmediate' },
];

/** Globals that are nondeterministic inside a protocol core. */
export const forbiddenCoreGlobals = ['setTimeout', 'setInterval', 'setImmediate', 'performance'];

/** The block that keeps protocol cores deterministic; exported so a test can check it alone. */
export const deterministicCore = {
  name: 'foundation/deterministic-core',
  files: CORE_FILES,
  rules: {
    'no-restricted-properties': [
      'error',
      ...forbiddenCoreProperties.map((entry) => ({ ...entry, message: CORE_MESSAGE })),
    ],
    'no-restricted-globals': [
      'error',
      ...forbiddenCoreGlobals.map((name) => ({ name, message: CORE_MESSAGE })),
    ],
    'no-restricted-syntax': [
      'error',
      { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: CORE_MESSAGE },
      { selector: "CallExpression[callee.name='Date']", message: CORE_MESSAGE },
    ],
    'no-restricted-imports': [
      'error',
      {
        paths: [
          { name: 'node:timers', message: CORE_MESSAGE },
          { name: 'timers', message: CORE_MESSAGE },
          { name: 'node:timers/promises', message: CORE_MESSAGE },
          { name: 'node:perf_hooks', message: CORE_MESSAGE },
          { name: 'node:crypto', importNames: ['randomUUID', 'randomBytes', 'randomInt', 'getRandomValues'], message: CORE_MESSAGE },
          { name: 'node:net', message: 'protocol cores do no I/O; put it in a driver' },
          { name: 'node:fs', message: 'protocol cores do no I/O; put it in a driver' },
          { name: 'node:fs/promises', message: 'protocol cores do no I/O; put it in a driver' },
        ],
      },
    ],
  },
};

/**
 * @param {{ rootDir: string, typeChecked?: boolean }} options
 *   typeChecked enables the rules that need type information (floating promises and friends).
 */
export function createConfig({ rootDir, typeChecked = true }) {
  const typeScriptConfigs = typeChecked ? tseslint.configs.recommendedTypeChecked : tseslint.configs.recommended;
  return tseslint.config(
    {
      name: 'foundation/ignores',
      ignores: [
        '**/node_modules/**',
        '**/dist/**',
        '**/coverage/**',
        '**/.turbo/**',
        '**/.check-packages/**',
        '**/.bench-build/**',
        'tooling/scripts/template/**',
        'tooling/eslint-config/test/fixture/**',
      ],
    },
    js.configs.recommended,
    ...typeScriptConfigs,
    {
      name: 'foundation/language',
      languageOptions: {
        ecmaVersion: 2023,
        sourceType: 'module',
        globals: { ...globals.node },
        ...(typeChecked
          ? { parserOptions: { projectService: { allowDefaultProject: ['*.js', '*.mjs', '*.cjs'] }, tsconfigRootDir: rootDir } }
          : {}),
      },
      linterOptions: { reportUnusedDisableDirectives: 'error' },
    },
    {
      name: 'foundation/rules',
      rules: {
        'no-console': 'off',
        eqeqeq: ['error', 'always', { null: 'ignore' }],
        '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
        '@typescript-eslint/consistent-type-imports': 'error',
        ...(typeChecked
          ? {
              '@typescript-eslint/no-floating-promises': 'error',
              '@typescript-eslint/no-misused-promises': 'error',
              '@typescript-eslint/require-await': 'off',
            }
          : {}),
      },
    },
    {
      name: 'foundation/tests',
      files: ['**/*.test.ts', '**/bench/**/*.ts', '**/test/**/*.ts'],
      rules: {
        '@typescript-eslint/no-non-null-assertion': 'off',
        ...(typeChecked ? { '@typescript-eslint/unbound-method': 'off' } : {}),
      },
    },
    {
      name: 'foundation/plain-javascript',
      files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
      ...(typeChecked ? tseslint.configs.disableTypeChecked : {}),
      rules: {
        ...(typeChecked ? tseslint.configs.disableTypeChecked.rules : {}),
        '@typescript-eslint/no-require-imports': 'off',
        '@typescript-eslint/consistent-type-imports': 'off',
      },
    },
    deterministicCore,
  );
}
