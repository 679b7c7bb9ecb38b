import { defineConfig } from 'vitest/config';

// `npm run test:faults`: broker-loss tests on a three-broker KRaft cluster (deploy/local/services.sh
// kafka-cluster, started and stopped by the test file). Not part of `npm test`: starting and stopping the
// three brokers takes about two minutes on top of the tests themselves (leader killed under load, then
// every broker killed with the spool on), and three more JVMs would run beside CI's Kafka and
// Elasticsearch. Run it after changing the bus, the spool or the consumers' dedup.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    fileParallelism: false,
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
