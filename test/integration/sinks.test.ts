// The real @slack/web-api client against a local Slack Web API peer, and the real nodemailer against a
// real SMTP server: delivery, and which failures the alerter may retry.
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEmailSink, emailSinkConfigSchema } from '../../src/alerting/sinks/email.ts';
import { createSlackSink, slackSinkConfigSchema } from '../../src/alerting/sinks/slack.ts';
import { type Hit, type Sink, SinkError } from '../../src/alerting/types.ts';
import { withEnv } from '../../src/config/secrets.ts';
import { type SlackServer, startSlackServer } from '../support/slack-server.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const hit: Hit = {
  id: 'hit-int-1',
  '@timestamp': '2026-03-04T03:12:45.000Z',
  detected_at: '2026-03-04T03:12:46.000Z',
  detector: 'brute-force-login',
  title: 'Many failed logins',
  severity: 'critical',
  summary: '41 failed Jenkins logins for <!channel> from 198.51.100.9 in 5 minutes.',
  description: 'Someone is guessing passwords.',
  runbook: 'https://pipewarden.example/runbooks/brute-force-login',
  key: '198.51.100.9',
  event_ids: ['e1', 'e2'],
  source: 'jenkins',
  actor: '<!channel>',
  source_ip: '198.51.100.9',
  context: { failures: 41 },
};

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function sendError<P>(sink: Sink<P>, payload: P): Promise<SinkError> {
  const err = await sink.send(payload).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SinkError);
  return err as SinkError;
}

describe('slack', () => {
  let server: SlackServer;
  beforeAll(async () => {
    server = await startSlackServer({ channels: ['#sec-alerts'] });
  });
  afterAll(() => server.close());
  afterEach(() => {
    server.messages.length = 0;
    server.requests.length = 0;
  });

  const sinkWith = (token: string, apiUrl = server.url, channel = '#sec-alerts') =>
    createSlackSink(
      withEnv({ PIPEWARDEN_SLACK_TOKEN: token }, () =>
        slackSinkConfigSchema.parse({
          enabled: true,
          channel,
          apiUrl,
          consoleUrl: 'https://pipewarden.example/',
        }),
      ),
    );

  it('delivers the rendered message with its blocks', async () => {
    const sink = sinkWith(server.token);
    const payload = sink.render(hit);
    await sink.send(payload);
    expect(server.messages).toHaveLength(1);
    const got = server.messages[0];
    expect(got?.channel).toBe('#sec-alerts');
    expect(got?.text).toBe(payload.text);
    expect(got?.blocks).toEqual(payload.blocks);
    expect(JSON.stringify(got)).not.toContain('<!channel>');
    expect(got?.unfurl_links).toBe('false');
  });

  it('invalid_auth is not retryable', async () => {
    const err = await sendError(sinkWith('xoxb-wrong'), sinkWith(server.token).render(hit));
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('invalid_auth');
    expect(server.messages).toHaveLength(0);
  });

  it('channel_not_found and not_in_channel are not retryable', async () => {
    const sink = sinkWith(server.token, server.url, '#nowhere');
    const err = await sendError(sink, sink.render(hit));
    expect(err).toMatchObject({ retryable: false, message: expect.stringContaining('channel_not_found') });
    server.failNext(1, 'not_in_channel');
    const ok = sinkWith(server.token);
    const err2 = await sendError(ok, ok.render(hit));
    expect(err2).toMatchObject({ retryable: false, message: expect.stringContaining('not_in_channel') });
  });

  it('a 429 is retryable and the client does not retry on its own', async () => {
    server.failNext(1, 'ratelimit');
    const sink = sinkWith(server.token);
    const started = Date.now();
    const err = await sendError(sink, sink.render(hit));
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('ratelimited');
    expect(Date.now() - started).toBeLessThan(900); // did not sit out the Retry-After second
    expect(server.requests).toEqual([{ method: 'chat.postMessage', status: 429, error: 'ratelimited' }]);
    await sink.send(sink.render(hit)); // the alerter's next attempt goes through
    expect(server.messages).toHaveLength(1);
  });

  it('a server 500 is retryable, tried once', async () => {
    server.failNext(1, 'server_error');
    const sink = sinkWith(server.token);
    const err = await sendError(sink, sink.render(hit));
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('http_500');
    expect(server.requests).toHaveLength(1);
  });

  it('an unreachable API is retryable', async () => {
    const sink = sinkWith(server.token, `http://127.0.0.1:${await closedPort()}/api/`);
    const err = await sendError(sink, sink.render(hit));
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('request_error');
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).not.toContain(server.token);
  });
});

describe('email', () => {
  let smtp: TestSmtpServer;
  const sinks: Array<Sink<unknown>> = [];
  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterAll(async () => {
    await Promise.all(sinks.map((s) => s.close?.()));
    await smtp.close();
  });
  afterEach(() => {
    smtp.messages.length = 0;
  });

  const sinkFor = (
    port: number,
    env: Record<string, string> = {},
    overrides: Record<string, unknown> = {},
  ) => {
    const sink = createEmailSink(
      withEnv(env, () =>
        emailSinkConfigSchema.parse({
          enabled: true,
          host: '127.0.0.1',
          port,
          requireTls: false, // the test server is a plain local relay
          from: 'pipewarden@example.com',
          to: ['soc@example.com', 'oncall@example.com'],
          ...overrides,
        }),
      ),
    );
    sinks.push(sink as Sink<unknown>);
    return sink;
  };

  it('delivers a mail with text and HTML parts', async () => {
    const sink = sinkFor(smtp.port);
    const payload = sink.render(hit);
    await sink.send(payload);
    const [mail] = await smtp.waitFor(1);
    expect(mail?.subject).toBe(payload.subject);
    expect(mail?.subject.startsWith('[pipewarden][CRITICAL] Many failed logins — ')).toBe(true);
    expect(mail?.from).toBe('pipewarden@example.com');
    expect(mail?.to).toEqual(['soc@example.com', 'oncall@example.com']);
    expect(mail?.envelope.to).toEqual(['soc@example.com', 'oncall@example.com']);
    expect(mail?.text).toContain('Source IP: 198.51.100.9');
    expect(mail?.text).toContain('Runbook: https://pipewarden.example/runbooks/brute-force-login');
    expect(mail?.html).toContain('<td>&lt;!channel&gt;</td>');
    expect(mail?.html).toContain('href="https://pipewarden.example/runbooks/brute-force-login"');
    expect(mail?.raw).toMatch(/multipart\/alternative/i);
    expect(mail?.user).toBeUndefined();
  });

  it('authenticates when both credentials are set', async () => {
    const authed = await startSmtpServer({ auth: { username: 'alerter', password: 's3cret' } });
    try {
      const creds = { PIPEWARDEN_SMTP_USERNAME: 'alerter', PIPEWARDEN_SMTP_PASSWORD: 's3cret' };
      const sink = sinkFor(authed.port, creds);
      await sink.send(sink.render(hit));
      expect((await authed.waitFor(1))[0]?.user).toBe('alerter');

      const wrong = sinkFor(authed.port, { ...creds, PIPEWARDEN_SMTP_PASSWORD: 'guess' });
      const err = await sendError(wrong, wrong.render(hit));
      expect(err.retryable).toBe(false);
      expect(err.message).toContain('535');
      expect(err.message).not.toContain('guess');
    } finally {
      await authed.close();
    }
  });

  it('a 550 is not retryable', async () => {
    smtp.failNext(1, 550);
    const sink = sinkFor(smtp.port);
    const err = await sendError(sink, sink.render(hit));
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('SMTP 550');
    expect(smtp.messages).toHaveLength(0);
  });

  it('a 4xx is retryable, at MAIL FROM or after DATA', async () => {
    const sink = sinkFor(smtp.port);
    smtp.failNext(1, 451, 'mail');
    const atMail = await sendError(sink, sink.render(hit));
    expect(atMail).toMatchObject({
      retryable: true,
      message: expect.stringContaining('SMTP 451 at MAIL FROM'),
    });
    smtp.failNext(1, 452);
    const atData = await sendError(sink, sink.render(hit));
    expect(atData).toMatchObject({ retryable: true, message: expect.stringContaining('SMTP 452') });
    await sink.send(sink.render(hit));
    expect(await smtp.waitFor(1)).toHaveLength(1);
  });

  it('a closed port is retryable', async () => {
    const sink = sinkFor(await closedPort());
    const err = await sendError(sink, sink.render(hit));
    expect(err.retryable).toBe(true);
  });

  it('with requireTls, a relay without STARTTLS is refused', async () => {
    const sink = sinkFor(smtp.port, {}, { requireTls: true });
    const err = await sendError(sink, sink.render(hit));
    expect(err.retryable).toBe(false);
    expect(smtp.messages).toHaveLength(0);
  });
});
