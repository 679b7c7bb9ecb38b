// Build-log streaming: the chunker, POST /ingest/build-logs/:job against a real embedded collector, and
// the GitHub/GitLab log fetchers against local HTTP servers that serve the real log samples.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.ts';
import { SqliteBus } from '../../src/bus/sqlite.ts';
import { Secret } from '../../src/config/secrets.ts';
import { chunkStream } from '../../src/ingest/build-logs/chunker.ts';
import { buildLogsPlugin } from '../../src/ingest/build-logs/plugin.ts';
import type { BuildLogChunk } from '../../src/ingest/build-logs/types.ts';
import { BuildLogWriter } from '../../src/ingest/build-logs/writer.ts';
import { createLogger } from '../../src/log.ts';
import { Counters } from '../../src/metrics.ts';
import { SecretEngine } from '../../src/secrets/scanner.ts';
import { eventually, GITHUB_SECRET, startEmbedded } from '../support/app.ts';
import { loadSample, rawBody, signGithub } from '../support/samples.ts';

const fixture = (name: string) => new URL(`../../src/ingest/build-logs/fixtures/${name}`, import.meta.url);
const githubLog = JSON.parse(readFileSync(fixture('job-log__checkout-masked-secrets.json'), 'utf8'))
  .body as string;
const gitlabTrace = JSON.parse(readFileSync(fixture('trace-with-sections.json'), 'utf8')).body as string;
const sampleTrace = readFileSync(fixture('gitlab_sample_trace.txt'), 'utf8');

async function collect(input: Array<string | Buffer>, chunkBytes: number): Promise<BuildLogChunk[]> {
  const out: BuildLogChunk[] = [];
  async function* gen() {
    for (const p of input) yield typeof p === 'string' ? Buffer.from(p) : p;
  }
  await chunkStream(gen(), { job: 'j', source: 's', chunkBytes, publish: async (c) => void out.push(c) });
  return out;
}

function checkChunks(chunks: BuildLogChunk[], whole: string, chunkBytes: number) {
  expect(chunks.map((c) => c.text).join('')).toBe(whole);
  expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
  expect(chunks.filter((c) => c.final)).toHaveLength(1);
  expect(chunks.at(-1)!.final).toBe(true);
  let offset = 0;
  let line = 1;
  for (const c of chunks) {
    expect(c.offset).toBe(offset);
    expect(c.lines).toBe(line);
    expect(Buffer.byteLength(c.text)).toBeLessThanOrEqual(chunkBytes * 2);
    offset += Buffer.byteLength(c.text);
    line += c.text.split('\n').length - 1;
  }
}

describe('build-logs chunker', () => {
  it('cuts at line ends near the target size and numbers chunks, offsets and lines', async () => {
    const whole = sampleTrace.repeat(40);
    const pieces = [];
    for (let i = 0; i < whole.length; i += 777) pieces.push(whole.slice(i, i + 777));
    const chunks = await collect(pieces, 4096);
    checkChunks(chunks, whole, 4096);
    expect(chunks.length).toBeGreaterThan(40);
    for (const c of chunks.slice(0, -1)) {
      expect(c.text.endsWith('\n')).toBe(true);
      expect(Buffer.byteLength(c.text)).toBeLessThanOrEqual(4096);
    }
  });

  it('splits an overlong line at a character boundary and keeps a last line without newline', async () => {
    const long = `${'é€😀'.repeat(5000)}\nshort\ntail without newline`;
    const chunks = await collect([long], 1024);
    checkChunks(chunks, long, 1024);
    for (const c of chunks) expect(c.text).not.toContain('\uFFFD');
  });

  it('publishes one empty final chunk for an empty log', async () => {
    expect(await collect([], 1024)).toEqual([
      { job: 'j', seq: 0, offset: 0, lines: 1, text: '', source: 's', final: true },
    ]);
  });
});

// --- HTTP: the endpoint and the fetchers against a real embedded collector ---

const UPLOAD_TOKEN = 'test-build-logs-token';
const GH_TOKEN = 'test-gh-api-token';
const GL_TOKEN = 'test-gl-api-token';
const GITLAB_SECRET = 'test-gitlab-secret';

let app: RunningApp;
let api: Server;
let apiUrl: string;
const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
const received: BuildLogChunk[] = [];

beforeAll(async () => {
  // Plays api.github.com (302 to a pre-signed blob URL), the blob store, and a GitLab instance.
  api = createServer((req, res) => {
    seen.push({ url: req.url!, headers: req.headers });
    if (req.url === '/repos/Codertocat/Hello-World/actions/jobs/289782451/logs') {
      if (req.headers.authorization !== `Bearer ${GH_TOKEN}`) return void res.writeHead(401).end();
      res.writeHead(302, { location: `${apiUrl}/blob/job-289782451.txt?sig=abc` }).end();
    } else if (req.url === '/blob/job-289782451.txt?sig=abc') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(githubLog.slice(0, 1000));
      setTimeout(() => res.end(githubLog.slice(1000)), 20);
    } else if (req.url === '/api/v4/projects/380/jobs/1977/trace') {
      if (req.headers['private-token'] !== GL_TOKEN) return void res.writeHead(401).end();
      res.writeHead(200, { 'content-type': 'text/plain' }).end(gitlabTrace);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  ({ app } = await startEmbedded(
    {
      server: { bodyLimitBytes: 64 * 1024 },
      buildLogs: {
        chunkBytes: 16 * 1024,
        fetch: { backoffMs: 10, github: { apiUrl }, gitlab: { apiUrl } },
      },
    },
    {
      PIPEWARDEN_BUILD_LOGS_TOKEN: UPLOAD_TOKEN,
      PIPEWARDEN_GITHUB_TOKEN: GH_TOKEN,
      PIPEWARDEN_GITLAB_TOKEN: GL_TOKEN,
      PIPEWARDEN_GITLAB_WEBHOOK_TOKEN: GITLAB_SECRET,
    },
    ['ingest'],
  ));
  await app.bus.subscribe({
    topic: app.config.topics.buildLogs,
    group: 'test-reader',
    handler: async (batch) => {
      for (const m of batch) {
        const c = JSON.parse(m.value) as BuildLogChunk;
        expect(m.key).toBe(c.job);
        received.push(c);
      }
    },
  });
});
afterAll(async () => {
  await app?.stop();
  await new Promise((r) => api?.close(r));
});

const chunksOf = (job: string) => received.filter((c) => c.job === job).sort((a, b) => a.seq - b.seq);
const complete = (job: string) => async () =>
  chunksOf(job).some((c) => c.final) ? chunksOf(job) : undefined;

describe('POST /ingest/build-logs/:job', () => {
  it('streams a body far larger than the body limit, in order, keyed by job', async () => {
    const job = 'jenkins:my job:42';
    const line = 'Step 3/7 : RUN make test — ok ✓\n';
    const total = 8 * 1024 * 1024;
    const hash = createHash('sha256');
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= total) return controller.close();
        const piece = Buffer.from(line.repeat(1000));
        sent += piece.length;
        hash.update(piece);
        controller.enqueue(piece);
      },
    });
    const res = await fetch(`${app.url}/ingest/build-logs/${encodeURIComponent(job)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${UPLOAD_TOKEN}`, 'content-type': 'text/plain' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(202);
    const answer = (await res.json()) as { job: string; chunks: number; bytes: number };
    expect(answer).toMatchObject({ job, bytes: sent });
    const chunks = await eventually(complete(job), 30_000, 'all chunks');
    expect(chunks).toHaveLength(answer.chunks);
    expect(chunks[0]!.source).toBe('jenkins');
    const got = createHash('sha256');
    for (const c of chunks) got.update(c.text);
    expect(got.digest('hex')).toBe(hash.digest('hex'));
    checkChunks(chunks, chunks.map((c) => c.text).join(''), 16 * 1024);
  });

  it('refuses a missing or wrong token with 401, and a control character in the job id with 400', async () => {
    const post = (job: string, auth?: string) =>
      fetch(`${app.url}/ingest/build-logs/${encodeURIComponent(job)}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', ...(auth ? { authorization: auth } : {}) },
        body: 'hello\n',
      });
    expect((await post('x')).status).toBe(401);
    expect((await post('x', `Bearer ${UPLOAD_TOKEN}x`)).status).toBe(401);
    expect((await post('x', `Basic ${UPLOAD_TOKEN}`)).status).toBe(401);
    expect((await post('a\u0001b', `Bearer ${UPLOAD_TOKEN}`)).status).toBe(400);
    const ok = await post('plain-job', `Bearer ${UPLOAD_TOKEN}`);
    expect(ok.status).toBe(202);
    expect(await ok.json()).toEqual({ job: 'plain-job', chunks: 1, bytes: 6, secrets: 0 });
  });

  it('takes job ids with slashes, raw or URL-encoded, and ids up to 512 characters', async () => {
    const post = (path: string) =>
      fetch(`${app.url}/ingest/build-logs/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', authorization: `Bearer ${UPLOAD_TOKEN}` },
        body: 'hello\n',
      });
    // Jenkins folder and multibranch jobs: $JOB_NAME is "folder/sub/job", as the README's snippet sends it.
    const raw = await post('jenkins:folder/sub/job:7');
    expect(raw.status, await raw.clone().text()).toBe(202);
    expect(await raw.json()).toMatchObject({ job: 'jenkins:folder/sub/job:7', chunks: 1 });
    const encoded = await post(encodeURIComponent('jenkins:folder/sub/other:8'));
    expect(encoded.status).toBe(202);
    expect(await encoded.json()).toMatchObject({ job: 'jenkins:folder/sub/other:8' });
    const chunks = await eventually(complete('jenkins:folder/sub/job:7'), 10_000, 'slashed job chunks');
    expect(chunks[0]!.source).toBe('jenkins');
    const long = `jenkins:${'d/'.repeat(200)}${'x'.repeat(512 - 8 - 400)}`;
    expect(long).toHaveLength(512);
    const longest = await post(long);
    expect(longest.status).toBe(202);
    expect(await longest.json()).toMatchObject({ job: long });
    expect((await post(`${long}y`)).status).toBe(400);
    expect((await post('')).status).toBe(400);
  });

  it('answers 503 with Retry-After when the bus cannot take a chunk', async () => {
    // A real bus that has gone away: every publish is refused with BusUnavailableError.
    const down = new SqliteBus({ path: ':memory:', log: createLogger({ level: 'silent' }) });
    await down.ensureTopics(['t', 'e']);
    await down.close();
    const writer = new BuildLogWriter({
      bus: down,
      buildLogsTopic: 't',
      eventsTopic: 'e',
      chunkBytes: 1024,
      scanning: testScanning(),
    });
    const server = Fastify();
    await server.register(buildLogsPlugin, {
      writer,
      token: new Secret(UPLOAD_TOKEN, 'test'),
      metrics: new Counters(),
    });
    const res = await server.inject({
      method: 'POST',
      url: '/ingest/build-logs/j',
      headers: { authorization: `Bearer ${UPLOAD_TOKEN}`, 'content-type': 'text/plain' },
      payload: 'line\n'.repeat(1000),
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json().message).toMatch(/closed/);
    await server.close();
  });
});

describe('log fetchers', () => {
  it('fetches a GitHub Actions job log when workflow_job completes, without sending the token to the blob store', async () => {
    const s = loadSample('github', 'workflow_job__completed.success.with-organization.json');
    const raw = rawBody(s);
    const res = await fetch(`${app.url}/ingest/github`, {
      method: 'POST',
      headers: signGithub(s, raw, GITHUB_SECRET, 'fetch-gh-1'),
      body: raw,
    });
    expect(res.status).toBe(202);
    const job = 'github:Codertocat/Hello-World:289782451';
    const chunks = await eventually(complete(job), 20_000, 'the GitHub job log');
    expect(chunks.map((c) => c.text).join('')).toBe(githubLog);
    expect(chunks[0]!.source).toBe('github');
    const blob = seen.find((r) => r.url.startsWith('/blob/'))!;
    expect(blob.headers.authorization).toBeUndefined();
  });

  it('fetches a GitLab job trace when the Job Hook says the job finished, and not before', async () => {
    const s = loadSample('gitlab', 'build.json');
    const headers = {
      'content-type': 'application/json',
      'x-gitlab-event': 'Job Hook',
      'x-gitlab-token': GITLAB_SECRET,
    };
    const created = await fetch(`${app.url}/ingest/gitlab`, {
      method: 'POST',
      headers,
      body: JSON.stringify(s.body),
    });
    expect(created.status).toBe(202);
    const finished = { ...(s.body as object), build_status: 'success' };
    const res = await fetch(`${app.url}/ingest/gitlab`, {
      method: 'POST',
      headers,
      body: JSON.stringify(finished),
    });
    expect(res.status).toBe(202);
    const chunks = await eventually(complete('gitlab:380:1977'), 20_000, 'the GitLab trace');
    expect(chunks.map((c) => c.text).join('')).toBe(gitlabTrace);
    expect(seen.filter((r) => r.url === '/api/v4/projects/380/jobs/1977/trace')).toHaveLength(1);
  });
});

function testScanning() {
  return {
    engine: new SecretEngine(),
    fingerprintKey: 'unit-test-fingerprint-key',
    suppressFingerprints: [],
    suppressRules: [],
  };
}
