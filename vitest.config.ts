import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Compiles dist/, which the CLI (bin/erc-demos.mjs) runs.
    globalSetup: ['test/global-setup.ts'],
    // Real embedder, real index builds: allow them time on a 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
