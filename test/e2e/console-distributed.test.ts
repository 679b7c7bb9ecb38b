import { inject } from 'vitest';
import { consoleInBrowser } from './console-browser.ts';

const run = `con${Date.now().toString(36)}`;

consoleInBrowser('distributed', () => ({
  mode: 'distributed',
  kafka: { brokers: inject('kafkaBrokers').split(','), partitions: 3 },
  elasticsearch: { node: inject('elasticsearchUrl'), indexPrefix: `pw-${run}` },
  topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
}));
