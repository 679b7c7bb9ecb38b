import { defineConfig } from 'vitest/config';

// `npm run test:faults`: broker-loss tests on a three-broker KRaft cluster (deploy/local/services.sh
// kafka-cluster, started by the test file). Not part of `npm test`: the leader-kill case still finds one
// accepted event missing in some runs (issue 10, item 5), so it is kept out of CI until that is fixed.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    fileParallelism: false,
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
