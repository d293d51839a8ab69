import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // End-to-end files start servers and child processes; two cores run two files at once.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
