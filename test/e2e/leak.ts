// The leak test (issue 5): plant secrets in a build log, run the whole pipeline, then search every output
// — every bus topic, every byte the store wrote, the Slack and email messages, our own logs — for the
// planted values. None may be found. Findings must still arrive, so the test cannot pass by seeing nothing.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/api/tokens.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { eventually } from '../support/app.ts';
import { rng, SAMPLES } from '../support/secret-samples.ts';
import { type SlackServer, startSlackServer } from '../support/slack-server.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

// A spread of what leaks in CI: cloud keys, forge and chat tokens, registry tokens, a private key printed
// by a tool, a database URL, a bearer header from a debug trace, a generic assignment.
const PLANTED_RULES = [
  'github-pat',
  'gitlab-pat',
  'aws-access-key-id',
  'aws-secret-access-key',
  'slack-bot-token',
  'npm-access-token',
  'dockerhub-pat',
  'stripe-secret-key',
  'openai-api-key',
  'private-key',
  'database-url-password',
  'auth-header-bearer',
  'jfrog-identity-token',
  'generic-secret-assignment',
];

export interface Planted {
  rule: string;
  /** Strings that must appear nowhere: the secret, and for a key each of its body lines. */
  needles: string[];
}

export function buildLeakyLog(seed: number): { text: string; planted: Planted[] } {
  const r = rng(seed);
  const benign = readFileSync(
    new URL('../../src/ingest/build-logs/fixtures/gitlab_sample_trace.txt', import.meta.url),
    'utf8',
  ).split('\n');
  const lines: string[] = [];
  const planted: Planted[] = [];
  PLANTED_RULES.forEach((rule, i) => {
    const sample = SAMPLES[rule]!.positive(r);
    lines.push(...benign.slice((i * 5) % benign.length, ((i * 5) % benign.length) + 5));
    lines.push(`2024-06-01T10:00:${String(i).padStart(2, '0')}.0000000Z \u001b[36m${sample.line}\u001b[0m`);
    const needles =
      rule === 'private-key' ? sample.secret.split('\\n').filter((l) => l.length >= 16) : [sample.secret];
    planted.push({ rule, needles });
  });
  // The same token again, base64-wrapped as a "debug" step would print it.
  const gh = planted[0]!.needles[0]!;
  const wrapped = Buffer.from(`machine github.com login x-access-token password ${gh}`).toString('base64');
  lines.push(`+ echo ${wrapped} | base64 -d > ~/.netrc`);
  planted.push({ rule: 'github-pat (base64)', needles: [wrapped] });
  lines.push(...benign);
  return { text: `${lines.join('\n')}\n`, planted };
}

/** Every file under a directory, as latin1 text (SQLite pages, WAL frames), so any stored byte is seen. */
export function filesText(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out += statSync(p).isDirectory() ? filesText(p) : readFileSync(p).toString('latin1');
  }
  return out;
}

export interface LeakMode {
  name: string;
  config: () => Record<string, unknown>;
  /** Everything the bus and the store hold, as text. */
  dump: (app: RunningApp) => Promise<{ bus: string; store: string }>;
}

export function leakTest(mode: LeakMode): void {
  describe(`leak test (${mode.name})`, () => {
    let app: RunningApp;
    let slack: SlackServer;
    let smtp: TestSmtpServer;
    let token: string;
    const logLines: string[] = [];
    const uploadToken = 'leak-test-upload-token-0123456789';
    const { text, planted } = buildLeakyLog(20261122);

    beforeAll(async () => {
      slack = await startSlackServer({ token: 'xoxb-leak' });
      smtp = await startSmtpServer();
      const destination = new Writable({
        write(chunk, _enc, done) {
          logLines.push(chunk.toString());
          done();
        },
      });
      const config = parseConfig(
        {
          ...mode.config(),
          log: { level: 'debug' },
          alerting: {
            backoffMs: 10,
            slack: { enabled: true, channel: '#leaks', apiUrl: slack.url, minSeverity: 'info' },
            email: {
              enabled: true,
              host: '127.0.0.1',
              port: smtp.port,
              requireTls: false,
              from: 'pw@example.test',
              to: ['soc@example.test'],
              minSeverity: 'info',
            },
          },
        },
        {
          PIPEWARDEN_SLACK_TOKEN: 'xoxb-leak',
          PIPEWARDEN_BUILD_LOGS_TOKEN: uploadToken,
          PIPEWARDEN_FINGERPRINT_KEY: 'leak-test-fingerprint-key-0123456789',
        },
      );
      // Our own logs at debug level, captured whole: they are an output too.
      app = await startApp(config, { port: 0, log: createLogger({ level: 'debug', destination }) });
      ({ token } = await createToken(app.store, 'leak'));
    });

    afterAll(async () => {
      await app?.stop();
      await slack?.close();
      await smtp?.close();
    });

    it('finds the planted secrets and lets none of them out in clear', async () => {
      // Uploaded the way a CI step streams it: many small chunks, so secrets straddle chunk boundaries.
      const bytes = Buffer.from(text);
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 97) controller.enqueue(bytes.subarray(i, i + 97));
          controller.close();
        },
      });
      const job = `github:octo-org/octo-repo:${Date.now()}`;
      const res = await fetch(`${app.url}/ingest/build-logs/${encodeURIComponent(job)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${uploadToken}`, 'content-type': 'text/plain' },
        body,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(202);
      const answer = (await res.json()) as { secrets: number };
      expect(answer.secrets).toBeGreaterThanOrEqual(planted.length);

      // Every planted rule raised a delivered alert.
      const alerts = await eventually(
        async () => {
          const r = await fetch(`${app.url}/api/alerts?detector=secrets-in-build-logs&size=500`, {
            headers: { authorization: `Bearer ${token}` },
          });
          const page = (await r.json()) as {
            items: Array<{ status: string; context: Record<string, unknown> }>;
          };
          const delivered = page.items.filter((a) => a.status === 'delivered');
          const seen = new Set(delivered.map((a) => String(a.context.rule)));
          return PLANTED_RULES.every((rule) => seen.has(rule)) ? delivered : undefined;
        },
        60_000,
        'the secret alerts',
      );
      const rules = new Set(alerts.map((a) => String(a.context.rule)));
      for (const rule of PLANTED_RULES) expect(rules, rule).toContain(rule);
      expect(slack.messages.length).toBeGreaterThanOrEqual(PLANTED_RULES.length);
      await smtp.waitFor(PLANTED_RULES.length, 20_000);
      await app.store.refresh();

      const { bus, store } = await mode.dump(app);
      // Not vacuous: the redacted log and the findings really are in what we searched.
      expect(bus).toContain('octo-org/octo-repo');
      expect(bus).toContain('secret.detected');
      expect(store).toContain('secret.detected');
      const outputs: Record<string, string> = {
        'bus topics': bus,
        store,
        slack: JSON.stringify(slack.messages),
        email: smtp.messages.map((m) => m.raw).join('\n'),
        'our logs': logLines.join(''),
      };
      const leaks: string[] = [];
      for (const p of planted) {
        for (const needle of p.needles) {
          for (const [where, content] of Object.entries(outputs)) {
            if (content.includes(needle)) leaks.push(`${p.rule} found in ${where}`);
          }
        }
      }
      expect(leaks).toEqual([]);
    });
  });
}
