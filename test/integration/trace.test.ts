// Tracing a change across events from real GitHub samples, through the real adapter, on both stores:
// a push and a passing status for one commit; a workflow run and the deployment it made (same run id),
// with the deployment's status. And GET /api/trace end to end on the embedded collector.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fixtureEvent } from '../../detectors/fixtures.ts';
import type { RunningApp } from '../../src/app.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../../src/store/elasticsearch.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/types.ts';
import { traceChange } from '../../src/trail/trace.ts';
import { eventually, GITHUB_SECRET, startEmbedded } from '../support/app.ts';
import { loadSample, rawBody, signGithub } from '../support/samples.ts';

const FILES = [
  'push__with-new-branch.json', // Codertocat/Hello-World, after 6113728f…
  'status__default.json', // success for 6113728f…
  'workflow_run__completed.json', // run 289782451, success
  'deployment__gh-pages.json', // deployment 145988746 of f95f852b…, made by run 289782451
  'deployment_status__gh-pages.json', // its status
  'check_run__completed.json', // another commit: must not appear
  'repository__publicized.json', // unrelated
];
const COMMIT = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';
const DEPLOYMENT = '145988746';
const RUN = '289782451';

const esUrl = inject('elasticsearchUrl');
const stores: Record<string, () => Promise<Store>> = {
  sqlite: async () => new SqliteStore({ path: join(mkdtempSync(join(tmpdir(), 'pw-trace-')), 's.sqlite') }),
  elasticsearch: async () =>
    new ElasticsearchStore(
      elasticsearchConfigSchema.parse({
        node: esUrl,
        indexPrefix: `pw-trace-${Math.random().toString(36).slice(2, 10)}`,
      }),
    ),
};

for (const [kind, make] of Object.entries(stores)) {
  describe(`trace (${kind})`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await make();
      await store.init();
      const events: PipewardenEvent[] = FILES.map((f) => fixtureEvent('github', f));
      await store.indexEvents(events);
      await store.refresh();
    });
    afterAll(async () => {
      await store?.close();
    });

    it('a commit: its push and passing status in time order; no deployment named as the gap', async () => {
      const t = await traceChange(store, { commit: COMMIT });
      expect(t.steps.map((s) => [s.stage, s.action, s.outcome])).toEqual([
        ['build', 'status', 'success'],
        ['push', 'push', 'unknown'],
      ]);
      expect(t.steps[1]).toMatchObject({ ref: 'refs/heads/master', repository: 'Codertocat/Hello-World' });
      expect(t.gaps).toEqual(['no deployment seen for this commit']);
    });

    it('a deployment: the workflow run that made it, the deployment and its status; push, artefact, approval named missing', async () => {
      const t = await traceChange(store, { deployment: DEPLOYMENT });
      expect(t.steps.map((s) => [s.stage, s.action])).toEqual([
        ['build', 'workflow_run.completed'],
        ['deployment', 'deployment.created'],
        ['deployment', 'deployment_status.created'],
      ]);
      expect(t.steps[0]).toMatchObject({ build_id: RUN, outcome: 'success' });
      expect(t.steps[1]).toMatchObject({
        deployment_id: DEPLOYMENT,
        environment: 'github-pages',
        build_id: RUN,
      });
      expect(t.commits).toEqual([
        '3484a3fb816e0859fd6e1cea078d76385ff50625',
        'f95f852bd8fca8fcc58a9a2d6c842781e32a215e',
      ]);
      expect(t.gaps).toEqual([
        'no push seen for the commit of this deployment',
        'no artefact publish seen for this change',
        'no approval seen for the deployment',
      ]);
    });

    it('a build and an unknown commit', async () => {
      const b = await traceChange(store, { build: RUN });
      expect(b.steps.map((s) => s.stage)).toEqual(['build', 'deployment', 'deployment']);
      const none = await traceChange(store, { commit: 'deadbeef' });
      expect(none).toMatchObject({ steps: [], gaps: ['nothing seen for commit deadbeef'] });
    });
  });
}

describe('GET /api/trace (embedded collector)', () => {
  let app: RunningApp;
  let token: string;
  beforeAll(async () => {
    ({ app, token } = await startEmbedded({}, {}, ['ingest', 'index']));
    for (const [i, f] of FILES.entries()) {
      const sample = loadSample('github', f);
      const raw = rawBody(sample);
      const res = await app.server.inject({
        method: 'POST',
        url: '/ingest/github',
        payload: raw,
        headers: signGithub(sample, raw, GITHUB_SECRET, `trace-${i}`),
      });
      expect(res.statusCode).toBe(202);
    }
  });
  afterAll(async () => {
    await app?.stop();
  });
  const get = (q: string) =>
    app.server.inject({
      method: 'GET',
      url: `/api/trace${q}`,
      headers: { authorization: `Bearer ${token}` },
    });

  it('answers the chain of a deployment with its gaps', async () => {
    const body = await eventually(async () => {
      const res = await get(`?deployment=${DEPLOYMENT}`);
      const json = res.json() as { steps: unknown[] };
      return res.statusCode === 200 && json.steps.length === 3 && json;
    });
    expect(body).toMatchObject({
      query: { deployment: DEPLOYMENT },
      gaps: expect.arrayContaining(['no approval seen for the deployment']),
      truncated: false,
    });
  });

  it('refuses a query without exactly one key, and without a token', async () => {
    expect((await get('')).statusCode).toBe(400);
    const two = await get(`?commit=${COMMIT}&build=${RUN}`);
    expect(two.statusCode).toBe(400);
    expect(two.json().message).toContain('give exactly one of commit, deployment, artifact, build');
    expect((await get('?sha=1')).json().message).toContain('unknown parameter(s): sha');
    const anon = await app.server.inject({ method: 'GET', url: `/api/trace?commit=${COMMIT}` });
    expect(anon.statusCode).toBe(401);
  });
});
