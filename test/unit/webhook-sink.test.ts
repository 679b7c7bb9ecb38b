// The webhook sink against a real local HTTP receiver that verifies the signature in constant time:
// what is signed, what is retried (5xx, 429 with Retry-After, bounded) and what is not (other 4xx, 3xx).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Alerter } from '../../src/alerting/alerter.ts';
import { createSinks } from '../../src/alerting/sinks/index.ts';
import {
  isRetryableStatus,
  renderWebhook,
  retryAfterMs,
  signatureHeader,
  signWebhook,
} from '../../src/alerting/sinks/webhook/index.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { type ConfigError, parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { startEmbedded } from '../support/app.ts';

const SECRET = 'whsec-test-0123456789abcdef';

const hit: Hit = {
  id: 'hit-1',
  '@timestamp': '2026-12-04T17:00:00.000Z',
  detected_at: '2026-12-04T17:00:01.000Z',
  detector: 'failed-logins',
  title: 'Brute force',
  severity: 'high',
  summary: '12 failed logins for octocat from 198.51.100.7 in 5 minutes.',
  description: 'Many failures for one user.',
  runbook: 'detectors/failed-logins/README.md#runbook',
  key: 'octocat',
  event_ids: ['e1', 'e2'],
  source: 'github-audit',
  actor: 'octocat',
  source_ip: '198.51.100.7',
  context: { failures: 12 },
};

/** The receiver's check, written from the README, not from the sink: constant-time, with a 5-minute window. */
function verify(raw: Buffer, header: string | undefined, secret: string, nowSeconds: number): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m || Math.abs(nowSeconds - Number(m[1])) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.`).update(raw).digest();
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}

interface Received {
  at: number;
  raw: Buffer;
  headers: IncomingMessage['headers'];
  verified: boolean;
}

/** Answers each request with the next planned reply (then 204), after verifying it with `receiverSecret`. */
let server: Server;
let url: string;
let received: Received[] = [];
let plan: Array<{ status: number; headers?: Record<string, string> }> = [];
let receiverSecret = SECRET;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const header = req.headers['x-pipewarden-signature'] as string | undefined;
      const verified = verify(raw, header, receiverSecret, Math.floor(Date.now() / 1000));
      received.push({ at: Date.now(), raw, headers: req.headers, verified });
      const next = verified ? (plan.shift() ?? { status: 204 }) : { status: 401 };
      res.writeHead(next.status, next.headers).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/pipewarden`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(() => {
  received = [];
  plan = [];
  receiverSecret = SECRET;
});

function alerter(overrides: Record<string, unknown> = {}, attempts = 3) {
  const config = parseConfig(
    { alerting: { webhook: { enabled: true, url, minSeverity: 'low', ...overrides } } },
    { PIPEWARDEN_WEBHOOK_SECRET: SECRET },
  );
  const sinks = createSinks(config.alerting);
  return new Alerter(sinks, undefined, { attempts, backoffMs: 0, log: createLogger({ level: 'silent' }) });
}

describe('webhook', () => {
  it('renders the alert as a versioned JSON document, purely', () => {
    const p = renderWebhook(hit);
    expect(p).toEqual(renderWebhook(structuredClone(hit)));
    expect(p.alertId).toBe('hit-1');
    expect(JSON.parse(p.body)).toEqual({ type: 'pipewarden.alert', version: 1, alert: hit });
  });

  it('signs "<t>.<body>" with HMAC-SHA256 (vector computed with openssl dgst -sha256 -hmac)', () => {
    const body = '{"type":"pipewarden.alert"}';
    const hex = '2a1c79bd38b16608ae96085952db003c7a4346be24fcf0d48cffeba489ca49b2';
    expect(signWebhook(body, SECRET, 1733300000)).toBe(hex);
    expect(signatureHeader(body, SECRET, 1733300000)).toBe(`t=1733300000,v1=${hex}`);
  });

  it('reads Retry-After as seconds or as an HTTP date, and says which statuses can pass', () => {
    const now = Date.parse('2026-12-04T17:00:00Z');
    expect(retryAfterMs('2', now)).toBe(2000);
    expect(retryAfterMs('Fri, 04 Dec 2026 17:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Fri, 04 Dec 2026 16:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect([500, 502, 503, 429, 408].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 410, 422, 301].some(isRetryableStatus)).toBe(false);
  });

  it('delivers a signed POST that the receiver verifies, with timestamp and alert id headers', async () => {
    const deliveries = await alerter().deliver(hit);
    expect(deliveries.webhook).toMatchObject({ status: 'sent', attempts: 1 });
    expect(received).toHaveLength(1);
    const r = received[0]!;
    expect(r.verified).toBe(true);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['x-pipewarden-alert-id']).toBe('hit-1');
    expect(r.headers['x-pipewarden-signature']).toMatch(
      new RegExp(`^t=${r.headers['x-pipewarden-timestamp']},v1=`),
    );
    expect(JSON.parse(r.raw.toString('utf8')).alert.id).toBe('hit-1');
  });

  it('is refused by a receiver holding another secret: 401 is a failure that is not retried', async () => {
    receiverSecret = 'another-secret-0123456789';
    const deliveries = await alerter().deliver(hit);
    expect(deliveries.webhook).toMatchObject({ status: 'failed', attempts: 1, retryable: false });
    expect(deliveries.webhook?.error).toBe('webhook: http_401');
    expect(received).toHaveLength(1);
    expect(received[0]!.verified).toBe(false);
  });

  it('retries 5xx until it gets through, each attempt signed afresh', async () => {
    plan = [{ status: 503 }, { status: 500 }];
    const deliveries = await alerter().deliver(hit);
    expect(deliveries.webhook).toMatchObject({ status: 'sent', attempts: 3 });
    expect(received.map((r) => r.verified)).toEqual([true, true, true]);
  });

  it('waits as long as a 429 Retry-After asks before the next attempt', async () => {
    plan = [{ status: 429, headers: { 'retry-after': '1' } }];
    const deliveries = await alerter().deliver(hit);
    expect(deliveries.webhook).toMatchObject({ status: 'sent', attempts: 2 });
    expect(received[1]!.at - received[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('gives up the round when Retry-After is past the bound, leaving it retryable for the sweep', async () => {
    plan = [{ status: 429, headers: { 'retry-after': '3600' } }];
    const deliveries = await alerter().deliver(hit);
    expect(deliveries.webhook).toMatchObject({ status: 'failed', attempts: 1, retryable: true });
    expect(received).toHaveLength(1);
  });

  it('does not retry other 4xx, and does not follow redirects', async () => {
    plan = [{ status: 422 }];
    expect((await alerter().deliver(hit)).webhook).toMatchObject({
      status: 'failed',
      attempts: 1,
      retryable: false,
    });
    plan = [{ status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere' } }];
    const redirected = (await alerter().deliver(hit)).webhook;
    expect(redirected).toMatchObject({ status: 'failed', attempts: 1, retryable: false });
    expect(redirected?.error).toMatch(/http_302: redirects are not followed/);
    expect(received).toHaveLength(2);
  });

  it('treats a receiver that does not answer in time, or is not there, as retryable', async () => {
    const down = parseConfig(
      { alerting: { webhook: { enabled: true, url: 'http://127.0.0.1:1/', timeoutMs: 200 } } },
      { PIPEWARDEN_WEBHOOK_SECRET: SECRET },
    );
    const [sink] = createSinks(down.alerting);
    await expect(sink!.send(sink!.render(hit))).rejects.toMatchObject({ retryable: true });
  });

  it('refuses a config without url or secret, or with a short secret, naming the path', () => {
    const problems = (raw: unknown, env: Record<string, string>) => {
      try {
        parseConfig(raw, env);
        return '';
      } catch (err) {
        return (err as ConfigError).message;
      }
    };
    const noUrl = problems({ alerting: { webhook: { enabled: true } } }, {});
    expect(noUrl).toMatch(/alerting\.webhook\.url: required when webhook is enabled/);
    expect(noUrl).toMatch(/alerting\.webhook\.secretEnv: .*PIPEWARDEN_WEBHOOK_SECRET/);
    expect(
      problems({ alerting: { webhook: { enabled: true, url } } }, { PIPEWARDEN_WEBHOOK_SECRET: 'short' }),
    ).toMatch(
      /alerting\.webhook\.secretEnv: the signing secret from \$PIPEWARDEN_WEBHOOK_SECRET is shorter than 16 bytes/,
    );
    expect(problems({ alerting: { webhook: { url: 'ftp://x.example/' } } }, {})).toMatch(
      /alerting\.webhook\.url: must be an http\(s\) URL/,
    );
  });

  it('is created from the registry by the app: POST /api/alerts/test reaches the receiver, signed', async () => {
    const { app, token } = await startEmbedded(
      { alerting: { webhook: { enabled: true, url } } },
      { PIPEWARDEN_WEBHOOK_SECRET: SECRET },
    );
    try {
      const res = await app.server.inject({
        method: 'POST',
        url: '/api/alerts/test',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().deliveries.webhook.status).toBe('sent');
      expect(received).toHaveLength(1);
      expect(received[0]!.verified).toBe(true);
      expect(JSON.parse(received[0]!.raw.toString('utf8')).alert.detector).toBe('pipewarden-test');
    } finally {
      await app.stop();
    }
  });
});
