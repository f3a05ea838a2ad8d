import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.offpeak/', 'coverage/', '.bench/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // core stays pure: no AWS SDK clients, middy, process.env or the outer layers
    files: ['lambdas/core/**/*.ts'],
    ignores: ['lambdas/core/db/data-api.ts', 'lambdas/core/db/data-api-*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['@aws-sdk/*', '@middy/*', '@aws-lambda-powertools/*'], message: 'core must not import AWS SDK clients, middy or Powertools (the Data API adapter is the one exception)' },
          { group: ['**/handlers/**', '**/runtime/**', '**/infra/**', '**/scripts/**'], message: 'core must not import outer layers' },
        ],
      }],
    },
  },
);
