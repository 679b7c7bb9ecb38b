import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import { circleci, newestSignature } from './index.ts';

const SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SECRET, 'test'), maxAgeMinutes: 15 };
const samples = listSamples('circleci').map((f) => loadSample('circleci', f));
/** Just after the samples happened (2021-09-01T22:49:34Z): they are old, so tests bring the clock. */
const soon = new Date('2021-09-01T22:50:00Z');
const sign = (raw: string, secret = SECRET) => `v1=${createHmac('sha256', secret).update(raw).digest('hex')}`;

describe('circleci', () => {
  it('checks the documented test vector', () => {
    expect(sign('hello world', 'secret').startsWith('v1=734cc62f')).toBe(true);
    expect(sign('hello world', 'secret').endsWith('623a')).toBe(true);
  });

  it('accepts every fixture when it is fresh, and refuses it as stale with the default max age', () => {
    for (const s of samples) {
      const raw = Buffer.from(rawBody(s));
      const headers = lowerHeaders(s.headers);
      expect(circleci.verify(raw, headers, config, soon), s.file).toEqual({ ok: true });
      expect(circleci.verify(raw, headers, config, new Date())).toMatchObject({
        ok: false,
        reason: expect.stringMatching(/older than 15 min/),
      });
      // A configured large max age lets an old capture in.
      expect(
        circleci.verify(raw, headers, { ...config, maxAgeMinutes: 10 * 365 * 1440 }, new Date()).ok,
      ).toBe(true);
    }
  });

  it('uses the newest version it knows, and refuses bad, missing, future or timeless deliveries', () => {
    const raw = JSON.stringify({ id: 'x', type: 'job-completed', happened_at: soon.toISOString() });
    const b = Buffer.from(raw);
    expect(circleci.verify(b, { 'circleci-signature': `${sign(raw)},v2=abcd` }, config, soon).ok).toBe(true);
    expect(newestSignature('v1=aa,v1=bb')?.hex).toBe('aa');
    expect(newestSignature('v2=aa')).toBeUndefined();
    expect(circleci.verify(b, { 'circleci-signature': sign(raw, 'nope') }, config, soon).ok).toBe(false);
    expect(circleci.verify(b, { 'circleci-signature': sign(raw).replace('v1', 'v2') }, config, soon).ok).toBe(
      false,
    );
    expect(circleci.verify(b, {}, config, soon).ok).toBe(false);
    expect(
      circleci.verify(b, { 'circleci-signature': sign(raw) }, { ...config, secret: undefined }, soon).ok,
    ).toBe(false);
    expect(
      circleci.verify(b, { 'circleci-signature': sign(raw) }, config, new Date(soon.getTime() - 3_600_000)),
    ).toMatchObject({ ok: false, reason: /future/ });
    const timeless = '{"id":"y","type":"job-completed"}';
    expect(
      circleci.verify(Buffer.from(timeless), { 'circleci-signature': sign(timeless) }, config, soon),
    ).toMatchObject({ ok: false, reason: /replay/ });
  });

  it('normalises both fixtures to build events with outcome, project, branch and commit', () => {
    for (const s of samples) {
      const e = circleci.toEvents(s.body, lowerHeaders(s.headers), soon).events[0]!;
      expect(e.pipewarden.kind).toBe('build');
      expect(e.event.outcome).toBe('success');
      expect(e.pipewarden.repository).toBe('circleci/webhook-service');
      expect(e.pipewarden.branch).toBe('main');
      expect(e.pipewarden.commit).toBe('1dc6aa69429bff4806ad6afe58d3d8f57e25973e');
      expect(e['@timestamp']).toBe(new Date((s.body as { happened_at: string }).happened_at).toISOString());
      expect(circleci.deliveryId({}, s.body)).toBe((s.body as { id: string }).id);
      expect(e.user?.name).toBe('Author Name');
    }
    expect(() => circleci.toEvents({}, {}, soon)).toThrow(AdapterInputError);
    expect(() => circleci.toEvents(null, {}, soon)).toThrow(AdapterInputError);
  });
});
