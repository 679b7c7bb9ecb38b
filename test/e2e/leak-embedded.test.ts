import { filesText, leakTest } from './leak.ts';
import { tempDataDir } from './scenario.ts';

let dataDir = '';
leakTest({
  name: 'embedded',
  config: () => {
    dataDir = tempDataDir();
    return { mode: 'embedded', embedded: { dataDir } };
  },
  // The bus and the store are files: every byte SQLite wrote (pages and WAL) is searched.
  dump: async () => {
    const all = filesText(dataDir);
    return { bus: all, store: all };
  },
});
