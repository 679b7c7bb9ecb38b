import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { github } from '../../ingest-adapters/github/index.ts';
import { Secret } from '../../src/config/secrets.ts';
import { EVENT_KINDS } from '../../src/event.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../support/samples.ts';

const SAMPLE_SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SAMPLE_SECRET, 'test') };
const at = new Date('2024-06-01T10:00:00Z');

describe('github', () => {
  describe('verify', () => {
    it('accepts the documented test vector', () => {
      const body = Buffer.from('Hello, World!');
      const sig = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
      const cfg = { enabled: true, secret: new Secret("It's a Secret to Everybody", 'test') };
      expect(github.verify(body, { 'x-hub-signature-256': sig }, cfg, at)).toEqual({ ok: true });
    });

    it('accepts every real sample as signed by the corpus secret', () => {
      for (const file of listSamples('github')) {
        const s = loadSample('github', file);
        expect(github.verify(Buffer.from(rawBody(s)), lowerHeaders(s.headers), config, at), file).toEqual({
          ok: true,
        });
      }
    });

    it('rejects a missing, malformed, truncated or wrong signature, and a tampered body', () => {
      const body = Buffer.from('{"a":1}');
      const good = `sha256=${createHmac('sha256', SAMPLE_SECRET).update(body).digest('hex')}`;
      expect(github.verify(body, { 'x-hub-signature-256': good }, config, at).ok).toBe(true);
      for (const bad of [
        undefined,
        '',
        'sha1=abc',
        good.slice(0, -2),
        `${good.slice(0, -1)}0`,
        `${good}00`,
        'sha256=zz',
      ]) {
        const headers = bad === undefined ? {} : { 'x-hub-signature-256': bad };
        expect(github.verify(body, headers, config, at).ok, String(bad)).toBe(false);
      }
      expect(github.verify(Buffer.from('{"a":2}'), { 'x-hub-signature-256': good }, config, at).ok).toBe(false);
      expect(
        github.verify(body, { 'x-hub-signature-256': good }, { enabled: true, secret: undefined }, at).ok,
      ).toBe(false);
    });
  });

  describe('toEvents', () => {
    it('normalises every real sample to one event with a known kind and stable id', () => {
      for (const file of listSamples('github')) {
        const s = loadSample('github', file);
        const headers = lowerHeaders(s.headers);
        const { events } = github.toEvents(s.body, headers, at);
        expect(events, file).toHaveLength(1);
        const e = events[0]!;
        expect(EVENT_KINDS).toContain(e.pipewarden.kind);
        expect(e.event.provider).toBe('github');
        expect(e.pipewarden.delivery_id).toBe(headers['x-github-delivery']);
        expect(github.toEvents(s.body, headers, new Date()).events[0]!.event.id, file).toBe(e.event.id);
        expect(Number.isNaN(Date.parse(e['@timestamp']))).toBe(false);
      }
    });

    it('maps security-relevant events to their kinds and fills actor and repository', () => {
      const cases: Array<[string, string, string]> = [
        ['branch_protection_rule__deleted.json', 'config.change', 'branch_protection_rule.deleted'],
        ['repository__publicized.json', 'config.change', 'repository.publicized'],
        ['member__added.with-installation.json', 'permission.change', 'member.added'],
        ['deployment__gh-pages.json', 'deploy', 'deployment.created'],
        ['workflow_run__completed.json', 'build', 'workflow_run.completed'],
        ['push__default.json', 'code.push', 'push'],
        ['secret_scanning_alert__reopened.json', 'security.alert', 'secret_scanning_alert.reopened'],
        ['ping__default.json', 'other', 'ping'],
      ];
      for (const [file, kind, action] of cases) {
        const s = loadSample('github', file);
        const e = github.toEvents(s.body, lowerHeaders(s.headers), at).events[0]!;
        expect(e.pipewarden.kind, file).toBe(kind);
        expect(e.event.action, file).toBe(action);
        expect(e.user?.name, file).toBeTruthy();
      }
      const s = loadSample('github', 'repository__publicized.json');
      const e = github.toEvents(s.body, lowerHeaders(s.headers), at).events[0]!;
      expect(e.pipewarden.repository).toBe('Codertocat/Hello-World');
      expect(e.message).toContain('Codertocat');
    });

    it('answers a ping with a pong', () => {
      const s = loadSample('github', 'ping__default.json');
      expect(github.toEvents(s.body, lowerHeaders(s.headers), at).reply).toMatchObject({ pong: true });
    });

    it('redacts credential-looking values in the kept raw payload', () => {
      const body = {
        action: 'created',
        hook: { config: { secret: 'hunter2', url: 'https://x' } },
        sender: { login: 'a' },
      };
      const e = github.toEvents(body, { 'x-github-event': 'meta', 'x-github-delivery': 'd1' }, at).events[0]!;
      expect(JSON.stringify(e)).not.toContain('hunter2');
      expect(JSON.stringify(e.pipewarden.raw)).toContain('https://x');
    });

    it('refuses a body without an event header or that is not an object', () => {
      expect(() => github.toEvents({}, {}, at)).toThrow(AdapterInputError);
      expect(() => github.toEvents([1, 2], { 'x-github-event': 'push' }, at)).toThrow(/JSON object/);
      expect(() => github.toEvents('x', { 'x-github-event': 'push' }, at)).toThrow(AdapterInputError);
    });
  });
});
