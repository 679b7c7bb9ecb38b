// Every sample of the shared corpus (the project's own copies, in each adapter's fixtures/) fed to a
// running collector over real HTTP, exactly as its source sends it: accepted and normalised to the kind
// recorded in test/fixtures/sample-kinds.json, or refused with the status a source that sends no
// credentials deserves.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { eventually, startEmbedded } from '../support/app.ts';

const SECRET = 'sample-webhook-secret'; // the corpus's shared secret (samples/README.md)
const ROOT = new URL('../../', import.meta.url);
const KINDS_FILE = new URL('../fixtures/sample-kinds.json', import.meta.url);
const SHARED = new URL('../../../shared/samples/', import.meta.url);

interface Sample {
  file: string; // <folder>/<file> in the corpus
  source: string;
  headers: Record<string, string>;
  body: unknown;
}

function loadAll(): Sample[] {
  const dirs = [
    ...readdirSync(new URL('ingest-adapters/', ROOT)).map((a) => `ingest-adapters/${a}/fixtures/`),
    'src/ingest/build-logs/fixtures/',
  ].filter((d) => existsSync(new URL(d, ROOT)));
  const out: Sample[] = [];
  for (const dir of dirs) {
    for (const name of readdirSync(new URL(dir, ROOT)).filter((f) => f.endsWith('.json'))) {
      const s = JSON.parse(readFileSync(new URL(`${dir}${name}`, ROOT), 'utf8'));
      // Some copies carry a prefix to share a folder (system__, ghes__): the corpus name is after it.
      const original = name.replace(/^(system|ghes)__/, '');
      out.push({ file: `${s.source}/${original}`, source: s.source, headers: s.headers, body: s.body });
    }
  }
  // The one plain-text corpus file.
  const trace = readFileSync(new URL('src/ingest/build-logs/fixtures/gitlab_sample_trace.txt', ROOT), 'utf8');
  out.push({ file: 'build-logs/gitlab_sample_trace.txt', source: 'build-logs', headers: {}, body: trace });
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

const raw = (s: Sample) => (typeof s.body === 'string' ? s.body : JSON.stringify(s.body));
const text = { 'content-type': 'text/plain' };
const basic = `Basic ${Buffer.from(`sample:${SECRET}`).toString('base64')}`;

/** Where and how each source delivers; text samples get the transport a shipper would add. */
function request(s: Sample): { url: string; headers: Record<string, string>; body: string } {
  const body = raw(s);
  const h = s.headers;
  switch (s.source) {
    case 'github':
    case 'github-enterprise-server':
      return { url: '/ingest/github', headers: h, body };
    case 'github-audit-log':
      // GitHub Enterprise audit-log streaming to a Splunk HEC endpoint: one envelope per event.
      return {
        url: '/services/collector/event',
        headers: { authorization: `Splunk ${SECRET}` },
        body: JSON.stringify({ event: s.body }),
      };
    case 'gitlab':
    case 'gitlab-system-hooks':
      return { url: '/ingest/gitlab', headers: h, body };
    case 'gitlab-audit-streaming':
      return { url: '/ingest/gitlab-audit', headers: h, body };
    case 'gitlab-logs':
      return { url: '/ingest/gitlab-logs', headers: { ...text, authorization: `Bearer ${SECRET}` }, body };
    case 'bitbucket-cloud':
      return { url: '/ingest/bitbucket', headers: h, body };
    case 'bitbucket-server':
      return { url: '/ingest/bitbucket-server', headers: h, body };
    case 'azure-devops':
      return { url: '/ingest/azure-devops', headers: h, body };
    case 'circleci':
      return { url: '/ingest/circleci', headers: h, body };
    case 'jenkins-audit-trail':
      return { url: '/ingest/jenkins', headers: { ...text, authorization: `Bearer ${SECRET}` }, body };
    case 'jenkins-logstash':
    case 'jenkins-notification':
      return { url: '/ingest/jenkins', headers: h, body };
    case 'artifactory-webhooks':
      return { url: '/ingest/artifactory', headers: h, body };
    case 'artifactory-logs':
      return { url: '/ingest/artifactory', headers: { ...text, 'x-jfrog-event-auth': SECRET }, body };
    case 'nexus-webhooks':
      return { url: '/ingest/nexus', headers: h, body };
    case 'docker-distribution':
      return { url: '/ingest/docker-distribution', headers: h, body };
    case 'harbor':
      return { url: '/ingest/harbor', headers: h, body };
    case 'build-logs':
    case 'github-actions-logs':
    case 'gitlab-job-trace':
      return {
        url: `/ingest/build-logs/${encodeURIComponent(`${s.source}:${s.file}`)}`,
        headers: { ...text, authorization: `Bearer ${SECRET}` },
        body,
      };
    default:
      throw new Error(`no route known for sample source ${s.source}`);
  }
}

const samples = loadAll();
let app: RunningApp;

beforeAll(async () => {
  const env = Object.fromEntries(
    [
      'GITHUB_WEBHOOK_SECRET',
      'GITHUB_AUDIT_HEC_TOKEN',
      'GITLAB_WEBHOOK_TOKEN',
      'GITLAB_AUDIT_STREAMING_TOKEN',
      'GITLAB_LOGS_TOKEN',
      'BITBUCKET_WEBHOOK_SECRET',
      'BITBUCKET_SERVER_WEBHOOK_SECRET',
      'AZURE_DEVOPS_WEBHOOK_SECRET',
      'CIRCLECI_WEBHOOK_SECRET',
      'JENKINS_SECRET',
      'ARTIFACTORY_SECRET',
      'NEXUS_SECRET',
      'DOCKER_DISTRIBUTION_TOKEN',
      'HARBOR_TOKEN',
      'BUILD_LOGS_TOKEN',
    ].map((n) => [
      `PIPEWARDEN_${n}`,
      n === 'DOCKER_DISTRIBUTION_TOKEN' || n === 'HARBOR_TOKEN' ? `Bearer ${SECRET}` : SECRET,
    ]),
  );
  // The CircleCI samples are from 2021: their age limit is raised here; the refusal of stale deliveries
  // is tested in the adapter's own tests.
  ({ app } = await startEmbedded({ sources: { circleci: { maxAgeMinutes: 10 * 365 * 24 * 60 } } }, env));
});
afterAll(async () => {
  await app?.stop();
});

describe('every sample of the corpus, through the running collector', () => {
  const kinds: Record<string, string[]> = existsSync(KINDS_FILE)
    ? JSON.parse(readFileSync(KINDS_FILE, 'utf8'))
    : {};
  const observed: Record<string, string[]> = {};

  it('covers every sample the shared corpus holds, when the corpus is beside the project', () => {
    const ours = new Set(samples.map((s) => s.file));
    expect(ours.size).toBeGreaterThanOrEqual(185);
    if (existsSync(SHARED)) {
      const missing = readdirSync(SHARED, { recursive: true, encoding: 'utf8' })
        .filter((f) => /\.(json|txt)$/.test(f))
        .filter((f) => !ours.has(f));
      expect(missing).toEqual([]);
    }
  });

  for (const s of samples) {
    it(s.file, async () => {
      const r = request(s);
      if (s.source === 'jenkins-notification') {
        // The Notification plugin authenticates only if the URL carries user-info: without it, refused.
        const bare = await app.server.inject({
          method: 'POST',
          url: r.url,
          headers: r.headers,
          payload: r.body,
        });
        expect(bare.statusCode).toBe(401);
        r.headers = { ...r.headers, authorization: basic };
      }
      const res = await app.server.inject({
        method: 'POST',
        url: r.url,
        headers: r.headers,
        payload: r.body,
      });
      expect(res.statusCode, res.body).toBeGreaterThanOrEqual(200);
      expect(res.statusCode, res.body).toBeLessThan(300);
      const answer = res.json() as { ids?: string[]; chunks?: number; secrets?: number };
      if (r.url.startsWith('/ingest/build-logs/')) {
        // Ordinary and CI-masked logs: chunked onto the bus, no secret reported.
        expect(answer.chunks).toBeGreaterThan(0);
        observed[s.file] = [`build.log:${answer.secrets}`];
      } else {
        const ids = answer.ids ?? [];
        const events = await eventually(
          async () => {
            const found = await Promise.all(ids.map((id) => app.store.getEvent(id)));
            return found.every(Boolean) ? (found as PipewardenEvent[]) : undefined;
          },
          10_000,
          `${s.file} indexed`,
        );
        observed[s.file] = events.map((e) => e.pipewarden.kind);
      }
      if (process.env.UPDATE_SAMPLE_KINDS) return;
      expect(observed[s.file], `${s.file}: kinds`).toEqual(kinds[s.file]);
    });
  }

  afterAll(() => {
    if (process.env.UPDATE_SAMPLE_KINDS) writeFileSync(KINDS_FILE, `${JSON.stringify(observed, null, 1)}\n`);
  });
});
