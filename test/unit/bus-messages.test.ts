// A message a consumer cannot use is skipped, not retried forever: the messages behind it still flow.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureEvent } from '../../detectors/fixtures.ts';
import type { RunningApp } from '../../src/app.ts';
import { readEvents, readHits } from '../../src/bus/messages.ts';
import type { ConsumedMessage } from '../../src/bus/types.ts';
import { createLogger } from '../../src/log.ts';
import { eventually, GITHUB_SECRET, startEmbedded } from '../support/app.ts';
import { loadSample, rawBody, signGithub } from '../support/samples.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, log: createLogger({ level: 'info', destination }) };
}

const msg = (value: string, offset = 0): ConsumedMessage => ({
  topic: 't',
  partition: 0,
  offset: String(offset),
  key: 'k',
  value,
  headers: {},
  timestamp: 0,
});

describe('readEvents / readHits', () => {
  const good = fixtureEvent('github', 'branch_protection_rule__deleted.json');

  it('keeps valid messages whole and skips the rest, logging position and reason but not content', () => {
    const { lines, log } = capture();
    const bad = [
      'not json',
      '{}',
      JSON.stringify({ ...good, '@timestamp': 'yesterday' }),
      JSON.stringify({ ...good, pipewarden: { ...good.pipewarden, kind: 'made.up' } }),
      JSON.stringify({ ...good, event: { ...good.event, id: '' }, secretish: 'hunter2-in-content' }),
    ];
    const out = readEvents([msg(JSON.stringify(good), 0), ...bad.map((b, i) => msg(b, i + 1))], log);
    expect(out).toEqual([good]);
    const logged = lines.map((l) => JSON.parse(l));
    expect(logged.map((l) => l.offset)).toEqual(['1', '2', '3', '4', '5']);
    expect(logged[2].reason).toMatch(/@timestamp: not a valid time/);
    expect(logged[3].reason).toMatch(/pipewarden\.kind/);
    expect(lines.join('')).not.toContain('hunter2');
  });

  it('reads hits and digest requests, and nothing that is half of either', () => {
    const { log } = capture();
    const hit = {
      id: 'h1',
      '@timestamp': '2024-06-01T10:00:00Z',
      detected_at: '2024-06-01T10:00:01Z',
      detector: 'failed-logins',
      severity: 'high',
      title: 't',
      summary: 's',
      description: 'd',
      runbook: 'r',
      key: 'alice',
      source: 'github',
      event_ids: ['e1'],
      context: {},
    };
    const out = readHits(
      [
        msg(JSON.stringify(hit)),
        msg('{"digest":"slack"}'),
        msg('{"digest":""}'),
        msg('{"digest":"slack","id":"x"}'),
        msg(JSON.stringify({ ...hit, severity: 'urgent' })),
        msg(JSON.stringify({ ...hit, event_ids: 'e1' })),
      ],
      log,
    );
    expect(out).toEqual([hit, { digest: 'slack' }]);
  });
});

describe('poison messages on a running collector', () => {
  let app: RunningApp;
  let token: string;
  beforeAll(async () => {
    ({ app, token } = await startEmbedded());
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('skips them on the events and hits topics, and the next webhook still reaches the index and an alert', async () => {
    const { topics } = app.config;
    await app.bus.publish(topics.events, [
      { key: 'x', value: '{"not":"an event"}' },
      { key: 'x', value: 'garbage' },
    ]);
    await app.bus.publish(topics.hits, [{ key: 'x', value: '{"id":"half-a-hit"}' }]);
    const s = loadSample('github', 'branch_protection_rule__deleted.json');
    const body = rawBody(s);
    const res = await app.server.inject({
      method: 'POST',
      url: '/ingest/github',
      payload: body,
      headers: signGithub(s, body, GITHUB_SECRET, 'poison-after-1'),
    });
    expect(res.statusCode).toBe(202);
    const [id] = res.json().ids as string[];
    const get = (url: string) =>
      app.server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    await eventually(
      async () => (await get(`/api/events/${id}`)).statusCode === 200,
      15_000,
      'the event indexed',
    );
    const alerts = await eventually(
      async () => {
        const page = (await get('/api/alerts?detector=pipeline-weakening')).json();
        return page.items.find((a: { event_ids: string[] }) => a.event_ids.includes(id!));
      },
      15_000,
      'the alert',
    );
    expect(alerts.detector).toBe('pipeline-weakening');
    expect((await get('/api/alerts/half-a-hit')).statusCode).toBe(404);
  });
});
