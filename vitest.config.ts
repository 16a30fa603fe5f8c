import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    // e2e tests drive a whole local stack (HTTP, SQS, the stream) on 2 shared cores: a slow machine is not a failure
    testTimeout: 60_000,
    hookTimeout: 90_000,
    pool: 'forks',
    // the Lambda bundles (npm start -- --bundles) load as Lambda loads them: Node's own import, untransformed
    server: { deps: { external: [/\/cdk\.out\//] } },
    projects: [
      // pure tests: no store
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      // everything that uses the store: a DynamoDB Local of its own per test file
      {
        extends: true,
        test: {
          name: 'store',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          setupFiles: ['test/support/dynamo-per-file.ts'],
        },
      },
    ],
  },
});
