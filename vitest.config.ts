import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    pool: 'forks',
    // the Lambda bundles (npm start -- --bundles) load as Lambda loads them: Node's own import, untransformed
    server: { deps: { external: [/\/cdk\.out\//] } },
  },
});
