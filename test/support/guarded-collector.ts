// An embedded collector in a process of its own, for tests that measure its memory (issue 10 item 7):
// argv[2] is the config overrides as JSON. It reports its URL, then answers 'rss' with its current and
// peak resident set size (sampled every 20 ms) and 'stop' by stopping.
import { startEmbedded } from './app.ts';

const overrides = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const env = JSON.parse(process.argv[3] ?? '{}') as Record<string, string>;
const { app } = await startEmbedded(overrides, env, ['ingest']);
let peak = 0;
const sample = () => {
  peak = Math.max(peak, process.memoryUsage().rss);
};
setInterval(sample, 20).unref();
const send = (m: unknown) => process.send?.(m);
process.on('message', async (m) => {
  if (m === 'reset') {
    (globalThis as { gc?: () => void }).gc?.();
    peak = process.memoryUsage().rss;
    send({ rss: peak, peak });
  } else if (m === 'rss') {
    sample();
    send({ rss: process.memoryUsage().rss, peak });
  } else if (m === 'stop') {
    await app.stop();
    process.exit(0);
  }
});
send({ url: app.url });
