// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  ...builtinModules.filter((m) => !m.startsWith('_')),
  ...builtinModules.map((m) => `node:${m}`),
];

/** Rules for code that runs inside an orchestrator's replay: deterministic, no I/O of its own. */
const determinismRules = /** @type {const} */ ({
  'no-restricted-imports': [
    'error',
    {
      paths: nodeBuiltins.map((name) => ({
        name,
        message: 'Orchestrators do no I/O: move this into an activity.',
      })),
      patterns: [
        { group: ['openai', 'openai/*'], message: 'Model calls belong in activities.' },
        { group: ['@azure/*'], message: 'Azure SDK calls belong in activities.' },
      ],
    },
  ],
  'no-restricted-syntax': [
    'error',
    {
      selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
      message: 'Use context.df.currentUtcDateTime: Date.now() differs on every replay.',
    },
    {
      selector: "NewExpression[callee.name='Date'][arguments.length=0]",
      message: 'Use context.df.currentUtcDateTime: new Date() differs on every replay.',
    },
    {
      selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
      message: 'Use context.df.newGuid(): Math.random() differs on every replay.',
    },
    {
      selector: "MemberExpression[object.name='process'][property.name='env']",
      message: 'Orchestrators get settings through their input, never from process.env.',
    },
  ],
  'no-restricted-globals': [
    'error',
    { name: 'setTimeout', message: 'Use context.df.createTimer.' },
    { name: 'setInterval', message: 'Use context.df.createTimer.' },
    { name: 'fetch', message: 'Orchestrators do no I/O: move this into an activity.' },
    { name: 'crypto', message: 'Use context.df.newGuid().' },
  ],
  'no-console': ['error'],
});

/** Modules orchestrators import values from (not only types): they run inside the replay. */
const replayedPureModules = [
  'src/agents/routing.ts',
  'src/agents/transcript.ts',
  'src/agents/prompts.ts',
  'src/agents/citations.ts',
  'src/contracts/**/*.ts',
  'src/names.ts',
  'src/lib/errors.ts',
  'src/lib/safeErrors.ts',
  'src/lib/logText.ts',
];

export default tseslint.config(
  {
    ignores: ['dist/**', 'coverage/**', 'node_modules/**', '**/fixtures/**', '.data/**', '.azurite/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['*.mjs', '*.js', '.ci/*.mjs'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['.ci/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', fetch: 'readonly', setTimeout: 'readonly' },
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        module: 'writable',
        require: 'readonly',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
  },
  {
    // Orchestrators are replayed: they must be deterministic and do no I/O of their own.
    files: ['src/orchestrators/**/*.ts'],
    rules: determinismRules,
  },
  {
    // The pure modules orchestrators import run inside the replay too, so they follow the same rules.
    files: replayedPureModules,
    rules: determinismRules,
  },
);
