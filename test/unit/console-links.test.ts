// Alerts link to the console's alert page (server.publicUrl), not to the bearer-only JSON route.
import { describe, expect, it } from 'vitest';
import { renderEmail } from '../../src/alerting/sinks/email.ts';
import { renderSlackMessage } from '../../src/alerting/sinks/slack.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { withConsoleUrl } from '../../src/factories.ts';

const hit: Hit = {
  id: 'hit/1',
  '@timestamp': '2025-03-04T12:00:00.000Z',
  detected_at: '2025-03-04T12:00:01.000Z',
  detector: 'failed-logins',
  title: 'Failed logins',
  severity: 'high',
  summary: '10 failed logins for alice',
  description: '',
  runbook: 'https://example.test/runbook',
  key: 'alice',
  event_ids: ['e1'],
  source: 'gitlab-audit',
  context: {},
};

describe('links into the console', () => {
  it('gives every sink server.publicUrl unless the sink sets its own consoleUrl', () => {
    const config = parseConfig(
      {
        server: { publicUrl: 'https://pw.example.test/' },
        alerting: {
          slack: { enabled: true, channel: '#sec', consoleUrl: 'https://other.example.test' },
          email: { enabled: true, host: 'smtp.example.test', from: 'a@example.test', to: ['b@example.test'] },
        },
      },
      { PIPEWARDEN_SLACK_TOKEN: 'xoxb-1' },
    );
    const alerting = withConsoleUrl(config) as unknown as Record<string, { consoleUrl?: string }>;
    expect(alerting.slack?.consoleUrl).toBe('https://other.example.test');
    expect(alerting.email?.consoleUrl).toBe('https://pw.example.test/');
  });

  it('links Slack and email to the alert page', () => {
    const slack = JSON.stringify(
      renderSlackMessage(hit, { channel: '#sec', consoleUrl: 'https://pw.example.test/' }),
    );
    expect(slack).toContain('https://pw.example.test/#/alert/hit%2F1|alert and events');
    const mail = renderEmail(hit, {
      from: 'a@x.test',
      to: ['b@x.test'],
      consoleUrl: 'https://pw.example.test',
    });
    expect(mail.text).toContain('Alert and events: https://pw.example.test/#/alert/hit%2F1');
    expect(mail.html).toContain('href="https://pw.example.test/#/alert/hit%2F1"');
    expect(renderEmail(hit, { from: 'a@x.test', to: ['b@x.test'] }).text).not.toContain('Alert and events');
  });
});
