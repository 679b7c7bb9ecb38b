import { inject } from 'vitest';
import { TEST_GROUP_PREFIX } from '../support/app.ts';
import { consoleInBrowser } from './console-browser.ts';

const run = `con${Date.now().toString(36)}`;

consoleInBrowser('distributed', () => ({
  mode: 'distributed',
  kafka: { brokers: inject('kafkaBrokers').split(','), groupPrefix: TEST_GROUP_PREFIX, partitions: 3 },
  elasticsearch: { node: inject('elasticsearchUrl'), indexPrefix: `pw-${run}` },
  topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
}));
