import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Two cores, shared with a Kafka and an Elasticsearch JVM: test files run one at a time.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'ingest-adapters/**/*.test.ts', 'detectors/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          // Starts real Kafka and Elasticsearch (deploy/local/services.sh) unless KAFKA_BROKERS and
          // ELASTICSEARCH_URL are set; fails the run when they cannot start. Never skips.
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
