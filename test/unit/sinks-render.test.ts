// Sink renderers tested by value, and the sinks' config schemas.
import { describe, expect, it } from 'vitest';
import { emailSinkConfigSchema, renderEmail } from '../../src/alerting/sinks/email.ts';
import {
  renderSlackMessage,
  type SlackBlock,
  slackSinkConfigSchema,
} from '../../src/alerting/sinks/slack.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { Secret, withEnv } from '../../src/config/secrets.ts';

function hit(overrides: Partial<Hit> = {}): Hit {
  return {
    id: 'hit-0123456789abcdef',
    '@timestamp': '2026-03-04T03:12:45.000Z',
    detected_at: '2026-03-04T03:12:46.000Z',
    detector: 'off-hours-deploy',
    title: 'Deploy outside business hours',
    severity: 'high',
    summary: 'alice deployed acme/api to production at 03:12 UTC.',
    description: 'A production deploy started outside the configured business hours.',
    runbook: 'https://pipewarden.example/runbooks/off-hours-deploy',
    key: 'alice',
    event_ids: ['e1'],
    source: 'github',
    actor: 'alice',
    repository: 'acme/api',
    source_ip: '203.0.113.7',
    context: { environment: 'production' },
    ...overrides,
  };
}

const fieldsOf = (blocks: SlackBlock[]) => {
  const section = blocks.find((b) => b.type === 'section' && 'fields' in b && b.fields);
  return section && section.type === 'section' ? (section.fields ?? []).map((f) => f.text) : [];
};

describe('slack', () => {
  it('renders header, summary, fields and runbook context', () => {
    const msg = renderSlackMessage(hit(), {
      channel: '#sec-alerts',
      consoleUrl: 'https://pipewarden.example/',
    });
    expect(msg.channel).toBe('#sec-alerts');
    expect(msg.text).toBe(
      '[HIGH] Deploy outside business hours: alice deployed acme/api to production at 03:12 UTC.',
    );
    expect(msg.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: '[HIGH] Deploy outside business hours', emoji: true },
    });
    expect(msg.blocks[1]).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: 'alice deployed acme/api to production at 03:12 UTC.', verbatim: true },
    });
    expect(fieldsOf(msg.blocks)).toEqual([
      '*Severity*\n:large_orange_circle: HIGH',
      '*Detector*\n`off-hours-deploy`',
      '*Source*\ngithub',
      '*Actor*\nalice',
      '*Repository*\nacme/api',
      '*Source IP*\n203.0.113.7',
      `*Time*\n<!date^${Date.parse('2026-03-04T03:12:45.000Z') / 1000}^{date_short_pretty} {time_secs}|2026-03-04T03:12:45.000Z>`,
    ]);
    expect(msg.blocks[3]).toEqual({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: 'Runbook: <https://pipewarden.example/runbooks/off-hours-deploy|open runbook>  ·  Hit `hit-0123456789abcdef`  ·  <https://pipewarden.example/#/alert/hit-0123456789abcdef|alert and events>',
        },
      ],
    });
  });

  it('leaves out the fields a hit does not have', () => {
    const msg = renderSlackMessage(hit({ actor: undefined, repository: undefined, source_ip: undefined }), {
      channel: 'C1',
    });
    const labels = fieldsOf(msg.blocks).map((t) => t.split('\n')[0]);
    expect(labels).toEqual(['*Severity*', '*Detector*', '*Source*', '*Time*']);
    expect(JSON.stringify(msg.blocks)).not.toContain('pipewarden.example/|');
  });

  it('escapes hostile names so they cannot mention, link or break out', () => {
    const msg = renderSlackMessage(
      hit({
        actor: '<!channel>',
        repository: 'evil/<https://evil.example|click me>',
        source_ip: '<@U0ADMIN>',
        summary: 'pushed by <!here> & <!subteam^S1|@oncall> to <#C0SEC>',
        title: 'Title <!everyone>',
      }),
      { channel: 'C1' },
    );
    const fields = fieldsOf(msg.blocks);
    expect(fields).toContain('*Actor*\n&lt;!channel&gt;');
    expect(fields).toContain('*Repository*\nevil/&lt;https://evil.example|click me&gt;');
    expect(fields).toContain('*Source IP*\n&lt;@U0ADMIN&gt;');
    expect(msg.blocks[1]).toMatchObject({
      text: { text: 'pushed by &lt;!here&gt; &amp; &lt;!subteam^S1|@oncall&gt; to &lt;#C0SEC&gt;' },
    });
    expect(msg.text).toBe(
      '[HIGH] Title &lt;!everyone&gt;: pushed by &lt;!here&gt; &amp; &lt;!subteam^S1|@oncall&gt; to &lt;#C0SEC&gt;',
    );
    // Every mrkdwn string: the only "<" left are the ones we wrote (date token and links).
    for (const b of msg.blocks) {
      if (b.type === 'header' || b.type === 'actions') continue; // buttons carry plain_text only
      const texts = b.type === 'context' ? b.elements : [...(b.text ? [b.text] : []), ...(b.fields ?? [])];
      for (const t of texts) {
        for (const m of t.text.matchAll(/<([^>]*)>/g))
          expect(m[1]).toMatch(/^(!date\^\d+\^|https:\/\/pipewarden)/);
      }
    }
  });

  it('does not turn a runbook that is not an http(s) URL into a link', () => {
    const msg = renderSlackMessage(hit({ runbook: 'detectors/off-hours-deploy/README.md' }), {
      channel: 'C1',
    });
    expect(msg.blocks[3]).toMatchObject({
      elements: [{ text: 'Runbook: `detectors/off-hours-deploy/README.md`  ·  Hit `hit-0123456789abcdef`' }],
    });
    const evil = renderSlackMessage(hit({ runbook: 'javascript:alert(1)|x>' }), { channel: 'C1' });
    expect(JSON.stringify(evil.blocks[3])).toContain('`javascript:alert(1)|x&gt;`');
  });

  it('keeps within Block Kit limits, never cutting an escaped entity', () => {
    const long = `${'a'.repeat(2998)}&&&&`;
    const msg = renderSlackMessage(hit({ summary: long, title: 'T'.repeat(400) }), { channel: 'C1' });
    const header = msg.blocks[0];
    expect(header?.type === 'header' && header.text.text.length).toBe(150);
    const section = msg.blocks[1];
    const text = section?.type === 'section' ? (section.text?.text ?? '') : '';
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text.endsWith('a…')).toBe(true);
    expect(msg.text.length).toBeLessThanOrEqual(500);
    expect(msg.text).not.toMatch(/&[a-z]*…$/);
  });
});

describe('email', () => {
  const to = ['soc@example.com', 'oncall@example.com'];

  it('renders subject, text and HTML with the fields and runbook', () => {
    const mail = renderEmail(hit(), { from: 'pipewarden@example.com', to });
    expect(mail.from).toBe('pipewarden@example.com');
    expect(mail.to).toEqual(to);
    expect(mail.subject).toBe(
      '[pipewarden][HIGH] Deploy outside business hours — alice deployed acme/api to production at 03:12 UTC.',
    );
    for (const line of [
      'Severity: HIGH',
      'Detector: off-hours-deploy',
      'Source: github',
      'Actor: alice',
      'Repository: acme/api',
      'Source IP: 203.0.113.7',
      'Time: 2026-03-04T03:12:45.000Z',
      'Hit: hit-0123456789abcdef',
      '  environment: production',
      'Runbook: https://pipewarden.example/runbooks/off-hours-deploy',
    ]) {
      expect(mail.text.split('\n')).toContain(line);
    }
    expect(mail.html).toContain('<th align="left" style="padding:2px 12px 2px 0">Actor</th><td>alice</td>');
    expect(mail.html).toContain(
      '<a href="https://pipewarden.example/runbooks/off-hours-deploy">https://pipewarden.example/runbooks/off-hours-deploy</a>',
    );
  });

  it('puts the severity in the subject and truncates a long summary', () => {
    const mail = renderEmail(
      hit({ severity: 'critical', summary: `line one\r\nBcc: x@evil.example ${'z'.repeat(300)}` }),
      {
        from: 'a@example.com',
        to,
      },
    );
    expect(
      mail.subject.startsWith('[pipewarden][CRITICAL] Deploy outside business hours — line one Bcc: x@evil'),
    ).toBe(true);
    expect(mail.subject).toHaveLength(160);
    expect(mail.subject.endsWith('z…')).toBe(true);
    expect(mail.subject).not.toMatch(/[\r\n]/);
  });

  it('leaves out the fields a hit does not have', () => {
    const mail = renderEmail(
      hit({ actor: undefined, repository: undefined, source_ip: undefined, context: {} }),
      {
        from: 'a@example.com',
        to,
      },
    );
    expect(mail.text).not.toMatch(/^(Actor|Repository|Source IP|Context):/m);
    expect(mail.html).not.toMatch(/>(Actor|Repository|Source IP|Context)</);
    expect(mail.text).toMatch(/^Source: github$/m);
  });

  it('HTML-escapes every interpolated value', () => {
    const mail = renderEmail(
      hit({
        actor: '<script>alert(1)</script>',
        repository: 'acme/"><img src=x onerror=alert(1)>',
        summary: 'a & b <b>bold</b>',
        title: "It's <i>",
        context: { '<k>': '<v>' },
        runbook: 'javascript:alert(1)',
      }),
      { from: 'a@example.com', to },
    );
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('<img');
    expect(mail.html).not.toContain('<b>bold');
    expect(mail.html).not.toContain('<i>');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).toContain('acme/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(mail.html).toContain('<p>a &amp; b &lt;b&gt;bold&lt;/b&gt;</p>');
    expect(mail.html).toContain('It&#39;s &lt;i&gt;');
    expect(mail.html).toContain('<td>&lt;v&gt;</td>');
    expect(mail.html).toContain('Runbook: <code>javascript:alert(1)</code>');
    expect(mail.html).not.toContain('href="javascript');
    // the text part is plain text: shown as is
    expect(mail.text).toContain('Actor: <script>alert(1)</script>');
  });
});

describe('slack config', () => {
  it('defaults to disabled, medium, and needs nothing when disabled', () => {
    const config = withEnv({}, () => slackSinkConfigSchema.parse({}));
    expect(config).toMatchObject({ enabled: false, minSeverity: 'medium' });
    expect(config.tokenEnv).toBeUndefined();
  });

  it('reads the bot token from the environment, never printing it', () => {
    const config = withEnv({ PIPEWARDEN_SLACK_TOKEN: 'xoxb-secret' }, () =>
      slackSinkConfigSchema.parse({ enabled: true, channel: '#alerts', apiUrl: 'http://127.0.0.1:9/api/' }),
    );
    expect(config.tokenEnv).toBeInstanceOf(Secret);
    expect(config.tokenEnv?.reveal()).toBe('xoxb-secret');
    expect(JSON.stringify(config)).not.toContain('xoxb-secret');
    const custom = withEnv({ MY_SLACK: 'xoxb-2' }, () =>
      slackSinkConfigSchema.parse({ enabled: true, channel: 'C1', tokenEnv: 'MY_SLACK' }),
    );
    expect(custom.tokenEnv?.reveal()).toBe('xoxb-2');
  });

  it('rejects enabled without a token, naming the variable, and without a channel', () => {
    const result = withEnv({}, () => slackSinkConfigSchema.safeParse({ enabled: true }));
    expect(result.success).toBe(false);
    const issues = result.error?.issues ?? [];
    const token = issues.find((i) => i.path.join('.') === 'tokenEnv');
    expect(token?.message).toContain('PIPEWARDEN_SLACK_TOKEN');
    expect(issues.map((i) => i.path.join('.'))).toContain('channel');
  });

  it('lists every error at once: bad URLs, unknown keys, a token in the file', () => {
    const result = withEnv({}, () =>
      slackSinkConfigSchema.safeParse({
        enabled: true,
        channel: '#a',
        tokenEnv: 'xoxb-123-456',
        apiUrl: 'http://127.0.0.1:9/api',
        consoleUrl: 'ftp://x',
        minSeverity: 'urgent',
        webhook: 'x',
      }),
    );
    const paths = (result.error?.issues ?? []).map((i) => i.path.join('.') || `(${i.code})`);
    expect(paths).toEqual(
      expect.arrayContaining(['tokenEnv', 'apiUrl', 'consoleUrl', 'minSeverity', '(unrecognized_keys)']),
    );
    const apiUrl = result.error?.issues.find((i) => i.path[0] === 'apiUrl');
    expect(apiUrl?.message).toContain("end with '/'");
  });
});

describe('email config', () => {
  it('has safe defaults', () => {
    const config = withEnv({}, () => emailSinkConfigSchema.parse({}));
    expect(config).toMatchObject({
      enabled: false,
      port: 587,
      secure: false,
      requireTls: true,
      minSeverity: 'high',
    });
  });

  it('rejects enabled without host, from and to, each with its path', () => {
    const result = withEnv({}, () => emailSinkConfigSchema.safeParse({ enabled: true }));
    expect((result.error?.issues ?? []).map((i) => i.path.join('.')).sort()).toEqual(['from', 'host', 'to']);
  });

  it('validates addresses and rejects an empty recipient list', () => {
    const result = withEnv({}, () =>
      emailSinkConfigSchema.safeParse({ enabled: true, host: 'smtp', from: 'not-an-address', to: [] }),
    );
    expect((result.error?.issues ?? []).map((i) => i.path.join('.')).sort()).toEqual(['from', 'to']);
    const bad = withEnv({}, () =>
      emailSinkConfigSchema.safeParse({ enabled: true, host: 'smtp', from: 'a@example.com', to: ['x'] }),
    );
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['to.0']);
  });

  it('takes credentials from the environment, and refuses only one of the two', () => {
    const base = { enabled: true, host: 'smtp', from: 'a@example.com', to: ['b@example.com'] };
    const both = withEnv({ PIPEWARDEN_SMTP_USERNAME: 'u', PIPEWARDEN_SMTP_PASSWORD: 'p' }, () =>
      emailSinkConfigSchema.parse(base),
    );
    expect(both.usernameEnv?.reveal()).toBe('u');
    expect(both.passwordEnv?.reveal()).toBe('p');
    expect(JSON.stringify(both)).not.toMatch(/"p"/);
    const one = withEnv({ PIPEWARDEN_SMTP_USERNAME: 'u' }, () => emailSinkConfigSchema.safeParse(base));
    expect(one.error?.issues.map((i) => i.path.join('.'))).toEqual(['passwordEnv']);
    expect(one.error?.issues[0]?.message).toContain('PIPEWARDEN_SMTP_PASSWORD');
  });
});
