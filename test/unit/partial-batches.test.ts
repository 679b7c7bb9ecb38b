// One bad entry in a batch body costs only itself (issue 10, item 6): a HEC batch or a gitlab-logs body
// with a bad entry stores the valid ones, in one publish, and says which failed (HEC's own fields for
// HEC); a body with no valid entry is still a 400. Real adapters, real HTTP plugin, embedded store.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.ts';
import { eventually, startEmbedded } from '../support/app.ts';

const fixture = (adapter: string, file: string) =>
  JSON.parse(
    readFileSync(new URL(`../../ingest-adapters/${adapter}/fixtures/${file}`, import.meta.url), 'utf8'),
  ).body;

let app: RunningApp;
beforeAll(async () => {
  ({ app } = await startEmbedded(
    {},
    {
      PIPEWARDEN_GITHUB_AUDIT_HEC_TOKEN: 'hec-partial-token',
      PIPEWARDEN_GITLAB_LOGS_TOKEN: 'logs-partial-token',
    },
  ));
});
afterAll(async () => {
  await app?.stop();
});

const stored = async (ids: string[]) => {
  const found = await Promise.all(ids.map((id) => app.store.getEvent(id)));
  return found.filter(Boolean).length;
};

describe('partial batches', () => {
  it('HEC: stores the valid events and names the bad one with invalid-event-number', async () => {
    const entries = [
      { event: fixture('github-audit', 'repo.create.json') },
      { time: 1 }, // no "event": HEC's "Event field is required"
      { event: fixture('github-audit', 'team.add_member.json') },
    ];
    const res = await app.server.inject({
      method: 'POST',
      url: '/services/collector/event',
      payload: entries.map((e) => JSON.stringify(e)).join('\n'),
      headers: { authorization: 'Splunk hec-partial-token', 'content-type': 'application/json' },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      text: 'Event field is required',
      code: 12,
      'invalid-event-number': 1,
      accepted: 2,
      rejected: [{ item: 1, reason: expect.stringMatching(/^Event field is required/) }],
    });
    await eventually(async () => (await stored(body.ids)) === 2, 10_000, 'both valid events stored');
  });

  it('HEC: a batch with no valid event is still refused whole, in HEC shape', async () => {
    const res = await app.server.inject({
      method: 'POST',
      url: '/services/collector/event',
      payload: '{"time":1}{"event":""}',
      headers: { authorization: 'Splunk hec-partial-token' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ text: 'Event field is required', code: 12 });
  });

  it('gitlab-logs: stores the valid lines and reports the bad line by number', async () => {
    const lines = [
      fixture('gitlab-logs', 'application_json.log__Failed_Login.json'),
      'not json at all',
      fixture('gitlab-logs', 'application_json.log__User_created.json'),
    ];
    const res = await app.server.inject({
      method: 'POST',
      url: '/ingest/gitlab-logs',
      payload: lines.join('\n'),
      headers: { authorization: 'Bearer logs-partial-token', 'content-type': 'text/plain' },
    });
    expect(res.statusCode, res.body).toBe(202);
    const body = res.json();
    expect(body.accepted).toBe(2);
    expect(body.rejected).toEqual([{ item: 2, reason: expect.stringMatching(/^line 2: /) }]);
    await eventually(async () => (await stored(body.ids)) === 2, 10_000, 'both valid lines stored');
    const bad = await app.server.inject({
      method: 'POST',
      url: '/ingest/gitlab-logs',
      payload: 'not json\nnor this',
      headers: { authorization: 'Bearer logs-partial-token', 'content-type': 'text/plain' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/line 1/);
  });
});
