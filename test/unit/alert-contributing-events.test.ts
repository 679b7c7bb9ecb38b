// Issues 9 and 11 through a running embedded pipewarden: ten failed GitLab sign-ins (the real system
// hook sample, ten deliveries) raise one brute-force alert, and GET /api/alerts/<id> inlines all ten
// events that contributed, not only the last one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { eventually, startEmbedded } from '../support/app.ts';
import { loadSample, lowerHeaders, rawBody } from '../support/samples.ts';

const TOKEN = 'test-gitlab-token';
let app: RunningApp;
let token: string;

beforeAll(async () => {
  ({ app, token } = await startEmbedded(
    { sources: { gitlab: { enabled: true } } },
    { PIPEWARDEN_GITLAB_WEBHOOK_TOKEN: TOKEN },
  ));
});
afterAll(() => app?.stop());

const get = (url: string) =>
  app.server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

describe('an alert and the events that contributed to it', () => {
  it('a brute force of ten failures shows all ten events', async () => {
    const sample = loadSample('gitlab', 'system__user_failed_login.json');
    const base = JSON.parse(rawBody(sample)) as Record<string, unknown>;
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      // Ten attempts, each its own delivery: GitLab updates the user record at every failed sign-in.
      const updated = new Date(Date.parse(String(base.updated_at)) + i * 1000).toISOString();
      const body = JSON.stringify({ ...base, updated_at: updated });
      const res = await app.server.inject({
        method: 'POST',
        url: '/ingest/gitlab',
        payload: body,
        headers: {
          ...lowerHeaders(sample.headers as Record<string, string>),
          'x-gitlab-token': TOKEN,
          'idempotency-key': `brute-force-delivery-${i}`,
        },
      });
      expect(res.statusCode, res.body).toBe(202);
      ids.push(...(res.json().ids as string[]));
    }
    expect(new Set(ids).size).toBe(10);
    const alert = await eventually(async () => {
      const page = (await get('/api/alerts?detector=failed-logins')).json();
      return page.items?.find((a: { context: { rule?: string } }) => a.context.rule === 'brute-force');
    }, 20_000);
    expect(alert.event_ids).toEqual(ids);
    // The events are indexed by another consumer: wait until all ten are there, then read the alert.
    const full = await eventually(async () => {
      const a = (await get(`/api/alerts/${alert.id}`)).json();
      return a.missing_events === 0 ? a : undefined;
    }, 20_000);
    expect(full.events.map((e: PipewardenEvent) => e.event.id)).toEqual(ids);
    expect(full.events.every((e: PipewardenEvent) => e.user?.name === 'user4')).toBe(true);
    expect(full.event_total).toBeUndefined();
  });
});
