// Request logs: at info, an accepted request leaves no line and a rejected one exactly one; at debug,
// every request is logged.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';

async function withApp(level: string, fn: (inject: (url: string) => Promise<number>) => Promise<void>) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-reqlog-'));
  const app = await startApp(parseConfig({ embedded: { dataDir } }, {}), {
    port: 0,
    roles: ['ingest'],
    log: createLogger({ level, destination }),
  });
  try {
    const since = lines.length;
    await fn(async (url) => (await app.server.inject({ method: 'GET', url })).statusCode);
    return lines.slice(since);
  } finally {
    await app.stop();
  }
}

describe('request logs', () => {
  it('at info: nothing for accepted requests, one line per rejected request', async () => {
    const lines = await withApp('info', async (get) => {
      expect(await get('/healthz')).toBe(200);
      expect(await get('/healthz')).toBe(200);
      expect(await get('/api/events?q=x')).toBe(401);
      expect(await get('/no/such/route')).toBe(404);
    });
    const requestLines = lines.filter(
      (l) => /request|Request/.test(String(l.msg)) && l.msg !== 'Rejected an API request.',
    );
    expect(requestLines.map((l) => [l.msg, l.url, (l.res as { statusCode?: number })?.statusCode])).toEqual([
      ['Request rejected.', '/api/events', 401],
      ['Request rejected.', '/no/such/route', 404],
    ]);
    expect(requestLines.every((l) => l.level === 30 && typeof l.ip === 'string')).toBe(true);
  });

  it('at debug: every request, incoming and completed', async () => {
    const lines = await withApp('debug', async (get) => {
      expect(await get('/healthz')).toBe(200);
    });
    expect(lines.filter((l) => l.msg === 'incoming request')).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'request completed' && l.level === 20)).toHaveLength(1);
  });
});
