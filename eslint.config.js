// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'dist/', 'coverage/', '.local-data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: 'Use the Clock port; domain and use cases never read the wall clock directly.',
        },
      ],
    },
  },
  {
    // The environment is read in one place (functions/config.ts): handlers get config objects.
    files: ['functions/**'],
    ignores: ['functions/config.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read the environment in functions/config.ts only.' },
      ],
    },
  },
  {
    // No function in functions/ longer than about 60 lines without a reason in a comment.
    files: ['functions/**'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }] },
  },
  {
    // The wall clock is allowed only where the Clock port is implemented, and in tests/tools.
    files: ['functions/adapters/**', 'test/**', 'bin/**', 'scripts/**', 'lib/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
