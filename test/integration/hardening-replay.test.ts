// Issue 10 item 8: a replayed signed body is one event and one alert, across restarts, whatever unsigned
// delivery id comes with it; a body whose shape disagrees with its unsigned event-type header is refused.
import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { eventually } from '../support/app.ts';
import { loadSample, rawBody, signGithub } from '../support/samples.ts';
import { signers } from '../support/signers.ts';

const GITHUB = 'replay-github-secret-0123';
const BITBUCKET = 'replay-bitbucket-secret-0123';
const NEXUS = 'replay-nexus-secret-0123';
const GITLAB_KEY = Buffer.alloc(32, 9);
const env = {
  PIPEWARDEN_GITHUB_WEBHOOK_SECRET: GITHUB,
  PIPEWARDEN_BITBUCKET_WEBHOOK_SECRET: BITBUCKET,
  PIPEWARDEN_NEXUS_SECRET: NEXUS,
  PIPEWARDEN_GITLAB_WEBHOOK_TOKEN: `whsec_${GITLAB_KEY.toString('base64')}`,
};
const dataDir = mkdtempSync(join(tmpdir(), 'pipewarden-replay-'));
let app: RunningApp | undefined;

async function start(): Promise<RunningApp> {
  const config = parseConfig({ mode: 'embedded', embedded: { dataDir }, log: { level: 'silent' } }, env);
  app = await startApp(config, { port: 0, log: createLogger({ level: 'silent' }) });
  return app;
}
afterAll(async () => {
  await app?.stop();
});

const post = (a: RunningApp, path: string, body: string, headers: Record<string, string>) =>
  fetch(`${a.url}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });

async function countEvents(a: RunningApp, query: Record<string, string>): Promise<number> {
  await a.store.refresh();
  return (await a.store.searchEvents({ ...query, size: 50 })).total;
}

describe('a replayed signed body is one event', () => {
  const sample = loadSample('github', 'branch_protection_rule__deleted.json');
  const raw = rawBody(sample);

  it('GitHub: three delivery ids, then a restart and a fourth: one event, one alert', async () => {
    let a = await start();
    for (const delivery of ['replay-1', 'replay-2', 'replay-3']) {
      const res = await post(a, '/ingest/github', raw, signGithub(sample, raw, GITHUB, delivery));
      expect(res.status, await res.text()).toBeLessThan(300);
    }
    const query = { source: 'github', action: 'branch_protection_rule.deleted' };
    await eventually(async () => (await countEvents(a, query)) >= 1, 20_000, 'the event indexed');
    const alerts = async (x: RunningApp) => {
      await x.store.refresh();
      return (await x.store.searchAlerts({ detector: 'pipeline-weakening', size: 50 })).total;
    };
    await eventually(async () => (await alerts(a)) >= 1, 20_000, 'the alert recorded');
    await new Promise((r) => setTimeout(r, 1_500)); // time for any second copy to arrive
    expect(await countEvents(a, query)).toBe(1);
    expect(await alerts(a)).toBe(1);

    // Durable: the in-memory map is gone after a restart, the content-derived ids are not.
    await a.stop();
    a = await start();
    const res = await post(a, '/ingest/github', raw, signGithub(sample, raw, GITHUB, 'replay-4'));
    expect(res.status).toBe(202);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await countEvents(a, query)).toBe(1);
    expect(await alerts(a)).toBe(1);
  }, 60_000);

  it('GitHub: a signed team body sent as deploy_key is refused with 400 naming the mismatch', async () => {
    const a = app ?? (await start());
    const team = loadSample('github', 'team__created.json');
    const body = rawBody(team);
    const headers = { ...signGithub(team, body, GITHUB, 'forged-1'), 'x-github-event': 'deploy_key' };
    const res = await post(a, '/ingest/github', body, headers);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(
      /X-GitHub-Event says 'deploy_key' but the body carries team, which only a team or membership or team_add payload has/,
    );
  });

  it('GitLab Standard Webhooks: the same signed webhook-id under new Idempotency-Keys is one event', async () => {
    const a = app ?? (await start());
    const body = JSON.stringify({
      object_kind: 'push',
      event_name: 'push',
      user_username: 'replayer',
      project: { path_with_namespace: 'acme/replayed' },
      checkout_sha: 'c0ffee',
    });
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = createHmac('sha256', GITLAB_KEY).update(`msg_replay.${ts}.`).update(body).digest('base64');
    for (const key of ['idem-1', 'idem-2', 'idem-3']) {
      const res = await post(a, '/ingest/gitlab', body, {
        'x-gitlab-event': 'Push Hook',
        'webhook-id': 'msg_replay',
        'webhook-timestamp': ts,
        'webhook-signature': `v1,${sig}`,
        'idempotency-key': key,
      });
      expect(res.status, await res.text()).toBe(202);
    }
    await eventually(async () => (await countEvents(a, { source: 'gitlab', actor: 'replayer' })) >= 1);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await countEvents(a, { source: 'gitlab', actor: 'replayer' })).toBe(1);
  });

  it('Bitbucket and Nexus: new unsigned delivery ids do not make new events', async () => {
    const a = app ?? (await start());
    const bb = loadSample('bitbucket', 'repo-push.json');
    const bbRaw = rawBody(bb);
    const nx = loadSample('nexus', 'component.json');
    const nxRaw = rawBody(nx);
    const lower = (h: Record<string, string>) =>
      Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
    for (const n of [1, 2, 3]) {
      const r1 = await post(a, '/ingest/bitbucket', bbRaw, {
        ...lower(bb.headers),
        ...signers.bitbucket!(bbRaw, BITBUCKET, new Date()),
        'x-request-uuid': `bb-${n}`,
      });
      expect(r1.status, await r1.text()).toBe(202);
      const r2 = await post(a, '/ingest/nexus', nxRaw, {
        ...lower(nx.headers),
        ...signers.nexus!(nxRaw, NEXUS, new Date()),
        'x-nexus-webhook-delivery': `nx-${n}`,
      });
      expect(r2.status, await r2.text()).toBe(202);
    }
    await eventually(async () => (await countEvents(a, { source: 'nexus' })) >= 1);
    await eventually(async () => (await countEvents(a, { source: 'bitbucket' })) >= 1);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await countEvents(a, { source: 'bitbucket' })).toBe(1);
    expect(await countEvents(a, { source: 'nexus' })).toBe(1);
    // A Nexus body sent under another webhook type is refused.
    const wrong = await post(a, '/ingest/nexus', nxRaw, {
      ...lower(nx.headers),
      ...signers.nexus!(nxRaw, NEXUS, new Date()),
      'x-nexus-webhook-id': 'rm:global:audit',
    });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { message: string }).message).toMatch(/lacks audit \(object\)/);
  });
});
