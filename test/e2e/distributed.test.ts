import { inject } from 'vitest';
import { endToEnd } from './scenario.ts';

const run = `e2e${Date.now().toString(36)}`;

endToEnd('distributed: real Kafka and Elasticsearch', () => ({
  mode: 'distributed',
  kafka: { brokers: inject('kafkaBrokers').split(','), partitions: 3 },
  elasticsearch: { node: inject('elasticsearchUrl'), indexPrefix: `pw-${run}` },
  topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
}));
