import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Worker tests start real worker_threads; keep files in parallel but bounded (2 cores).
    maxWorkers: 2,
  },
});
