import { consoleInBrowser, expiredSession } from './console-browser.ts';
import { tempDataDir } from './scenario.ts';

consoleInBrowser('embedded', () => ({ mode: 'embedded', embedded: { dataDir: tempDataDir() } }), {
  screenshots: true,
});
expiredSession();
