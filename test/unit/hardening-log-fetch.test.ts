// Issue 10 item 10: the log fetchers validate owner/name strictly, send the token only to the configured
// API, and follow a redirect only to the API itself, a host the operator lists, or the vendor's
// documented log-storage hosts on public addresses. Local servers play the API and a loopback "blob store".
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { githubAudit } from '../../ingest-adapters/github-audit/index.ts';
import { withEnv } from '../../src/config/secrets.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { buildLogsConfigSchema } from '../../src/ingest/build-logs/config.ts';
import { redirectRefusal } from '../../src/ingest/build-logs/egress.ts';
import { FetchError, fetchLog, fetchTarget } from '../../src/ingest/build-logs/fetch.ts';
import type { BuildLogWriter } from '../../src/ingest/build-logs/writer.ts';

const TOKEN = 'gh-api-token-0123456789';
const listen = (s: Server) =>
  new Promise<string>((r) =>
    s.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)),
  );

const blobHits: IncomingHttpHeaders[] = [];
const apiHits: string[] = [];
let api: Server;
let blob: Server;
let apiUrl: string;
let blobUrl: string;

beforeAll(async () => {
  blob = createServer((req, res) => {
    blobHits.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('secret internal data\n');
  });
  blobUrl = await listen(blob);
  api = createServer((req, res) => {
    apiHits.push(req.url!);
    res.writeHead(302, { location: `${blobUrl}/internal` }).end();
  });
  apiUrl = await listen(api);
});
afterAll(async () => {
  await new Promise((r) => api?.close(r));
  await new Promise((r) => blob?.close(r));
});

const config = (redirectHosts: string[] = []) =>
  withEnv({ PIPEWARDEN_GITHUB_TOKEN: TOKEN }, () =>
    buildLogsConfigSchema.parse({ fetch: { github: { apiUrl, redirectHosts } } }),
  ).fetch;

const jobEvent = (fullName: string): PipewardenEvent => ({
  '@timestamp': '2026-01-01T00:00:00Z',
  event: {
    id: 'e',
    kind: 'event',
    category: ['process'],
    type: ['info'],
    action: 'workflow_job.completed',
    outcome: 'success',
    dataset: 'github.webhook',
    provider: 'github',
    ingested: '2026-01-01T00:00:00Z',
  },
  pipewarden: {
    kind: 'build',
    source: 'github',
    raw: { action: 'completed', workflow_job: { id: 42 }, repository: { full_name: fullName } },
  },
});

/** A writer that only reads the stream: what reached it is what the fetcher would have ingested. */
function sink() {
  const got: string[] = [];
  const writer = {
    async write(body: ReadableStream<Uint8Array>) {
      got.push(await new Response(body).text());
      return { chunks: 1, bytes: got.at(-1)!.length, secrets: 0 };
    },
  } as unknown as BuildLogWriter;
  return { writer, got };
}

describe('owner/name', () => {
  it.each(['../..', 'acme/..', '../repo', 'acme/./x', 'a/b/c', '-acme/repo', 'acme/re po', ''])(
    'refuses %j',
    (name) => {
      expect(fetchTarget(jobEvent(name), config())).toBeNull();
    },
  );

  it('builds the API URL from a valid owner/name', () => {
    const t = fetchTarget(jobEvent('Codertocat/Hello-World.js'), config());
    expect(t?.url).toBe(`${apiUrl}/repos/Codertocat/Hello-World.js/actions/jobs/42/logs`);
  });
});

describe('redirects', () => {
  it('refuses a redirect to a loopback host that is neither the API nor listed: nothing is ingested', async () => {
    blobHits.length = 0;
    const { writer, got } = sink();
    const target = fetchTarget(jobEvent('acme/app'), config())!;
    const err = await fetchLog(target, writer).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).retryable).toBe(false);
    expect((err as Error).message).toMatch(/refused: 127\.0\.0\.1:\d+ is not a documented log-storage host/);
    expect(blobHits).toHaveLength(0);
    expect(got).toHaveLength(0);
    expect(apiHits.at(-1)).toBe('/repos/acme/app/actions/jobs/42/logs');
  });

  it('follows it when the operator lists the host, without the token', async () => {
    blobHits.length = 0;
    const { writer, got } = sink();
    const target = fetchTarget(jobEvent('acme/app'), config([new URL(blobUrl).host]))!;
    await fetchLog(target, writer);
    expect(got).toEqual(['secret internal data\n']);
    expect(blobHits).toHaveLength(1);
    expect(blobHits[0]!.authorization).toBeUndefined();
  });

  it('follows a vendor host only over https and only to public addresses', async () => {
    const policy = {
      apiOrigin: 'https://api.github.com',
      allowHosts: [],
      vendorHosts: ['*.actions.githubusercontent.com'],
    };
    const resolvesTo = (ip: string) => async () => [ip];
    const u = new URL('https://pipelines.actions.githubusercontent.com/x');
    expect(await redirectRefusal(u, policy, resolvesTo('140.82.112.21'))).toBeUndefined();
    for (const ip of ['127.0.0.1', '10.1.2.3', '169.254.169.254', '192.168.1.1', '::1', 'fd00::1']) {
      expect(await redirectRefusal(u, policy, resolvesTo(ip)), ip).toMatch(/loopback or private/);
    }
    expect(
      await redirectRefusal(
        new URL('http://pipelines.actions.githubusercontent.com/x'),
        policy,
        resolvesTo('140.82.112.21'),
      ),
    ).toMatch(/https/);
    expect(
      await redirectRefusal(new URL('https://actions.githubusercontent.com.evil.example/x'), policy),
    ).toMatch(/not a documented log-storage host/);
    expect(await redirectRefusal(new URL('https://169.254.169.254/latest/meta-data'), policy)).toMatch(
      /not a documented log-storage host/,
    );
  });
});

describe('the audit-log poller', () => {
  it('refuses an organisation or enterprise that is not a GitHub slug', () => {
    const parse = (poll: Record<string, unknown>) =>
      withEnv({ PIPEWARDEN_GITHUB_AUDIT_API_TOKEN: TOKEN }, () =>
        githubAudit.configSchema.safeParse({ poll }),
      );
    expect(parse({ org: '..' }).success).toBe(false);
    expect(parse({ enterprise: '../../user' }).success).toBe(false);
    expect(parse({ org: 'acme-corp' }).success).toBe(true);
  });
});
