// Lint for the whole workspace in one process (`npm run lint`): JavaScript's and TypeScript's
// recommended rules, the workspace's boundaries (tools/lint/boundaries.js), and nothing about
// formatting, which is Prettier's (`npm run format:check`).
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const prettier = require('eslint-config-prettier');
const globals = require('globals');
const trainyard = require('./tools/lint/boundaries');

module.exports = tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.trainyard/**', '.nx/**', 'coverage/**', 'examples/**/__pycache__/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { trainyard },
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'trainyard/boundaries': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests read messages and answers off the wire as whatever JSON came.
    files: ['**/*.spec.ts', 'test/**/*.ts', 'libs/testing/src/**/*.ts'],
    languageOptions: { globals: { ...globals.node, ...globals.jest } },
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  prettier,
);
