// CVE-2023-7028 indicators in GitLab's logs (issue 11): a password reset asked for several addresses.
import { describe, expect, it } from 'vitest';
import { bodyEvents, fixtureBody } from '../../detectors/fixtures.ts';

const event = (file: string) => bodyEvents('gitlab-logs', fixtureBody('gitlab-logs', file) as string);

describe('gitlab-logs', () => {
  it('keeps a production_json.log password reset and counts its addresses', () => {
    const [e] = event('production_json.log__password_reset_two_emails.json');
    expect(e?.event.action).toBe('password_reset_request');
    expect(e?.pipewarden.change).toEqual({ field: 'password reset emails', to: '2' });
    expect(e?.source?.ip).toBe('203.0.113.77');
  });

  it('counts one address for a normal reset', () => {
    const [e] = event('production_json.log__password_reset_one_email.json');
    expect(e?.pipewarden.change?.to).toBe('1');
  });

  it('reads the audit_json.log "Ask for password reset" line with a JSON list of addresses', () => {
    const [e] = event('audit_json.log__password_reset_two_emails.json');
    expect(e?.event.action).toBe('password_reset_request');
    expect(e?.pipewarden.change?.to).toBe('2');
  });
});
