// Every sample of the shared corpus (the project's own copies, in each adapter's fixtures/) fed to a
// running collector over real HTTP, exactly as its source sends it: accepted and normalised to the kind
// recorded beside it (ingest-adapters/<id>/sample-kinds.json, keyed by fixture file; build logs in
// test/fixtures/sample-kinds.json), or refused with the status a source that sends no
// credentials deserves.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSamples, lowerHeaders, rawBody } from '../../ingest-adapters/fixtures.ts';
import { adapters } from '../../ingest-adapters/index.ts';
import type { RunningApp } from '../../src/app.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { eventually, startEmbedded } from '../support/app.ts';
import { sourceSecretsEnv } from '../support/signers.ts';

const SECRET = 'sample-webhook-secret'; // the corpus's shared secret (samples/README.md)
const ROOT = new URL('../../', import.meta.url);
const KINDS_FILE = new URL('../fixtures/sample-kinds.json', import.meta.url);
const SHARED = new URL('../../../shared/samples/', import.meta.url);
const BUILD_LOGS = new URL('src/ingest/build-logs/fixtures/', ROOT);

interface Sample {
  file: string; // <folder>/<file> in the corpus
  fixture: string; // the file name of our copy
  source: string;
  headers: Record<string, string>;
  body: unknown;
  adapter?: (typeof adapters)[number]; // undefined: a build log
}

// Some copies carry a prefix to share a folder (system__, ghes__): the corpus name is after it.
const corpusName = (file: string) => file.replace(/^(system|ghes)__/, '');

function loadAll(): Sample[] {
  const out: Sample[] = [];
  for (const adapter of adapters) {
    for (const s of loadSamples(adapter.id)) {
      out.push({
        file: `${s.source}/${corpusName(s.file)}`,
        fixture: s.file,
        source: s.source,
        headers: s.headers,
        body: s.body,
        adapter,
      });
    }
  }
  for (const s of loadSamples('build-logs', BUILD_LOGS)) {
    out.push({
      file: `${s.source}/${s.file}`,
      fixture: s.file,
      source: s.source,
      headers: s.headers,
      body: s.body,
    });
  }
  // The one plain-text corpus file.
  const trace = readFileSync(new URL('gitlab_sample_trace.txt', BUILD_LOGS), 'utf8');
  out.push({
    file: 'build-logs/gitlab_sample_trace.txt',
    fixture: 'gitlab_sample_trace.txt',
    source: 'build-logs',
    headers: {},
    body: trace,
  });
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

const text = { 'content-type': 'text/plain' };

/** Where a sample's expected kinds are kept, and under which key: beside its adapter, or with the build logs. */
const kindsOf = (s: Sample): { file: URL; key: string } =>
  s.adapter
    ? { file: new URL(`ingest-adapters/${s.adapter.id}/sample-kinds.json`, ROOT), key: s.fixture }
    : { file: KINDS_FILE, key: s.file };
const readJson = (file: URL): Record<string, string[]> =>
  existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};

/**
 * Where and how each sample is delivered: to its adapter's route, as the adapter says its source sends a
 * stored body, with the sample's own headers. `signed`: whether those headers carry the source's credential
 * (captured with the corpus secret); samples taken from logs and unauthenticated plugins carry none.
 */
function request(s: Sample): { url: string; headers: Record<string, string>; body: string; signed: boolean } {
  const a = s.adapter;
  if (!a) {
    return {
      url: `/ingest/build-logs/${encodeURIComponent(`${s.source}:${s.file}`)}`,
      headers: { ...text, authorization: `Bearer ${SECRET}` },
      body: rawBody(s),
      signed: true,
    };
  }
  const body = a.testing.deliver ? a.testing.deliver(s.body) : rawBody(s);
  const headers = lowerHeaders(s.headers);
  // Text samples get the transport a shipper would add.
  headers['content-type'] ??= typeof s.body === 'string' ? 'text/plain' : 'application/json';
  const credentialHeaders = Object.keys(a.testing.sign(body, SECRET, new Date()));
  return {
    url: a.paths?.[0] ?? `/ingest/${a.id}`,
    headers,
    body,
    signed: credentialHeaders.some((h) => h in headers),
  };
}

const samples = loadAll();
let app: RunningApp;

beforeAll(async () => {
  const env = { ...sourceSecretsEnv(SECRET), PIPEWARDEN_BUILD_LOGS_TOKEN: SECRET };
  // The CircleCI samples are from 2021: their age limit is raised here; the refusal of stale deliveries
  // is tested in the adapter's own tests.
  ({ app } = await startEmbedded({ sources: { circleci: { maxAgeMinutes: 10 * 365 * 24 * 60 } } }, env));
});
afterAll(async () => {
  await app?.stop();
});

describe('every sample of the corpus, through the running collector', () => {
  const observed = new Map<string, Record<string, string[]>>(); // kinds file → key → kinds

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
      if (!r.signed) {
        // A sample captured without credentials (a log line, the Notification plugin without URL
        // user-info) is refused as it is, and accepted once authenticated as its adapter's source does.
        const bare = await app.server.inject({
          method: 'POST',
          url: r.url,
          headers: r.headers,
          payload: r.body,
        });
        expect(bare.statusCode, bare.body).toBe(401);
        r.headers = { ...r.headers, ...s.adapter!.testing.sign(r.body, SECRET, new Date()) };
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
      let seen: string[];
      if (r.url.startsWith('/ingest/build-logs/')) {
        // Ordinary and CI-masked logs: chunked onto the bus, no secret reported.
        expect(answer.chunks).toBeGreaterThan(0);
        seen = [`build.log:${answer.secrets}`];
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
        seen = events.map((e) => e.pipewarden.kind);
      }
      const where = kindsOf(s);
      if (process.env.UPDATE_SAMPLE_KINDS) {
        const byKey = observed.get(where.file.href) ?? {};
        byKey[where.key] = seen;
        observed.set(where.file.href, byKey);
        return;
      }
      expect(seen, `${s.file}: kinds (${where.file.pathname})`).toEqual(readJson(where.file)[where.key]);
    });
  }

  afterAll(() => {
    if (!process.env.UPDATE_SAMPLE_KINDS) return;
    for (const [file, byKey] of observed) {
      const sorted = Object.fromEntries(Object.entries(byKey).sort(([a], [b]) => a.localeCompare(b)));
      writeFileSync(new URL(file), `${JSON.stringify(sorted, null, 1)}\n`);
    }
  });
});
