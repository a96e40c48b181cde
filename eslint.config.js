import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      'packages/contracts/gen/**',
      '**/dist/**',
      '.data/**',
      'services/gateway/static/vendor/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // Tests read JSON answers of the REST facade; typing every one of them would add nothing.
    files: ['tests/**/*.ts', '**/test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The learning core is pure: no Node built-ins and nothing of the project.
    files: ['packages/scoring/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['node:*', '@routeplex/*', 'fs', 'path', 'crypto', 'os', 'http', 'https', 'net', 'child_process'] },
      ],
      'no-restricted-globals': ['error', 'process', 'Date', 'setTimeout', 'setInterval', 'fetch', 'performance'],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Take randomness as a parameter.' },
      ],
    },
  },
  {
    // Packages never import services; services never import each other.
    files: ['packages/**/*.ts'],
    ignores: ['packages/scoring/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '@routeplex/router',
            '@routeplex/feedback',
            '@routeplex/insights',
            '@routeplex/gateway',
            '**/services/**',
          ],
        },
      ],
    },
  },
);
