import { consoleInBrowser, expiredSession } from './console-browser.ts';
import { tempDataDir } from './scenario.ts';

consoleInBrowser('embedded', () => ({ mode: 'embedded', embedded: { dataDir: tempDataDir() } }), {
  // PW_SCREENSHOTS=1 rewrites docs/console-*.png (the README's); off by default so a test run leaves the tree clean.
  screenshots: process.env.PW_SCREENSHOTS === '1',
});
expiredSession();
