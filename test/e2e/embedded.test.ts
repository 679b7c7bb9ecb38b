import { endToEnd, tempDataDir } from './scenario.ts';

endToEnd('embedded: SQLite bus and store', () => ({
  mode: 'embedded',
  embedded: { dataDir: tempDataDir() },
}));
