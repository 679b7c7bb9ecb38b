// Issue 10 items 7 and 13: the credential is checked on the headers, before the body is read, for every
// source (a header scheme decides there; a signed one refuses a request without its signature header);
// an unknown source is refused as early and adds no metric series of its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapters } from '../../ingest-adapters/index.ts';
import type { RunningApp } from '../../src/app.ts';
import { PendingCounter } from '../../src/ingest/guard.ts';
import { startEmbedded } from '../support/app.ts';

const SECRET = 'guard-secret-0123456789';

let app: RunningApp;
beforeAll(async () => {
  // Every registered source on, through the secret variable each adapter declares.
  const env = Object.fromEntries(adapters.map((a) => [a.secretEnv, SECRET]));
  ({ app } = await startEmbedded({}, env, ['ingest']));
});
afterAll(async () => {
  await app?.stop();
});

/** POSTs a body that never ends: only an answer given before the body is read can come back. */
async function postEndless(path: string, headers: Record<string, string>): Promise<Response> {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"never":"ends"'));
    },
  });
  return fetch(`${app.url}${path}`, {
    method: 'POST',
    headers,
    body,
    duplex: 'half',
    signal: AbortSignal.timeout(3_000),
  } as RequestInit);
}

describe('credentials are checked before the body is read', () => {
  it('every adapter declares verifyHeaders', () => {
    expect(adapters.filter((a) => !a.verifyHeaders).map((a) => a.id)).toEqual([]);
  });

  for (const a of adapters) {
    it(`${a.id}: a request without credentials is refused before its body arrives`, async () => {
      const type = a.contentTypes === '*' || !a.contentTypes ? 'application/json' : a.contentTypes[0]!;
      const res = await postEndless(a.paths?.[0] ?? `/ingest/${a.id}`, { 'content-type': type });
      expect(res.status).toBe(401);
      const answer = (await res.json()) as { message?: string; text?: string };
      expect(answer.message ?? answer.text).toBeTruthy();
    });
  }

  it('a wrong token on a header scheme is refused before the body arrives', async () => {
    const res = await postEndless('/ingest/jenkins', {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from('ci:wrong-secret-0123456789').toString('base64')}`,
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toBe(
      'Authorization credentials do not match the configured secret',
    );
  });
});

describe('unknown sources', () => {
  it('answer 404 before the body and add no label series of their own to /metrics', async () => {
    for (const name of ['rand123', 'rand456', 'constructor']) {
      const res = await postEndless(`/ingest/${name}`, { 'content-type': 'application/json' });
      expect(res.status).toBe(404);
      await res.body?.cancel();
    }
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).not.toContain('rand123');
    expect(metrics).not.toContain('constructor');
    expect(metrics).toMatch(/pipewarden_ingest_requests_total\{source="unknown",result="unknown_source"\} 3/);
  });
});

describe('PendingCounter', () => {
  it('caps per client and in total, and a release is counted once', () => {
    const c = new PendingCounter(2, 3);
    const a1 = c.acquire('a')!;
    expect(c.acquire('a')).toBeTypeOf('function');
    expect(c.acquire('a')).toBeUndefined();
    expect(c.acquire('b')).toBeTypeOf('function');
    expect(c.acquire('c')).toBeUndefined(); // total reached
    a1();
    a1();
    expect(c.size).toBe(2);
    expect(c.acquire('c')).toBeTypeOf('function');
  });
});
