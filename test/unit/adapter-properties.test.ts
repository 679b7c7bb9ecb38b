// The generic properties every registered adapter keeps, over its own real samples (one test for all,
// instead of a copy in each adapter's tests): random and mutated bodies and headers only ever fail as
// bad input (AdapterInputError), every event made is well formed, deliveryId never throws; and verify never
// passes without the secret. Per-adapter tests (ingest-adapters/<id>/<id>.test.ts) keep what is specific.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadSamples, lowerHeaders, rawBody } from '../../ingest-adapters/fixtures.ts';
import { adapters } from '../../ingest-adapters/index.ts';
import { withEnv } from '../../src/config/secrets.ts';
import { EVENT_KINDS, type PipewardenEvent } from '../../src/event.ts';
import { basicAuth, hmacHex } from '../../src/ingest/crypto.ts';
import { AdapterInputError, type Headers } from '../../src/ingest/types.ts';

const SECRET = 'property-secret-0123456789';
const WRONG = 'property-secret-0123456788';
const at = new Date('2024-06-01T00:00:00Z');
const kinds = new Set<string>(EVENT_KINDS);

/** Replaces the pick-th node (depth first) of a JSON document with `value` (undefined drops the key). */
function mutate(doc: unknown, pick: number, value: unknown): unknown {
  let n = 0;
  const target = pick % Math.max(count(doc), 1);
  const walk = (v: unknown): unknown => {
    if (n++ === target) return value;
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(doc);
}
function count(v: unknown): number {
  if (Array.isArray(v)) return 1 + v.reduce((a: number, x) => a + count(x), 0);
  if (v && typeof v === 'object') return 1 + Object.values(v).reduce((a: number, x) => a + count(x), 0);
  return 1;
}

function wellFormed(e: PipewardenEvent, what: string) {
  expect(kinds.has(e.pipewarden.kind), `${what}: kind ${e.pipewarden.kind}`).toBe(true);
  expect(typeof e.event.id === 'string' && e.event.id.length > 0, `${what}: id`).toBe(true);
  expect(typeof e.event.action, `${what}: action`).toBe('string');
  expect(Number.isNaN(Date.parse(e['@timestamp'])), `${what}: @timestamp ${e['@timestamp']}`).toBe(false);
}

for (const a of adapters) {
  describe(a.id, () => {
    const samples = loadSamples(a.id);
    const deliver = (body: unknown) =>
      a.testing.deliver
        ? a.testing.deliver(body)
        : typeof body === 'string'
          ? body
          : (JSON.stringify(body) ?? '');
    const sampleHeaders = samples.map((s) => lowerHeaders(s.headers));
    const credentialNames = Object.keys(a.testing.sign('', SECRET, at));
    const headerNames = [
      ...new Set([
        ...sampleHeaders.flatMap((h) => Object.keys(h)),
        ...credentialNames,
        'content-type',
        'authorization',
        'x-other',
      ]),
    ].sort();
    const knownValues = [
      ...new Set([
        ...sampleHeaders.flatMap((h) => Object.values(h)),
        ...(Array.isArray(a.contentTypes) ? a.contentTypes : ['application/json', 'text/plain']),
      ]),
    ].sort();
    const headerValue = fc.oneof(
      fc.string(),
      fc.constantFrom(...knownValues),
      fc.string().map((s) => `Bearer ${s}`),
      fc.string().map((s) => `Splunk ${s}`),
      fc.string().map((s) => basicAuth('sample', s)),
      fc.string().map((s) => `sha256=${hmacHex('sha256', s, 'x')}`),
    );
    const randomHeaders = fc.dictionary(fc.constantFrom(...headerNames), headerValue, { maxKeys: 4 });
    // A sample's own headers (its event name, content type), with some replaced or added at random.
    const headers = fc
      .tuple(fc.option(fc.constantFrom(...sampleHeaders)), randomHeaders)
      .map(([own, extra]) => ({ ...(own ?? {}), ...extra }));

    const bodies = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
      // A value deep in a real sample replaced, or its key dropped.
      fc
        .tuple(
          fc.constantFrom(...samples),
          fc.nat(),
          fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.constantFrom('toString', '__proto__', '%')),
        )
        .map(([s, pick, v]) => deliver(typeof s.body === 'string' ? s.body : mutate(s.body, pick, v))),
      // Bytes of a real delivery inserted, cut or overwritten.
      fc
        .tuple(fc.constantFrom(...samples), fc.nat(), fc.nat(), fc.string({ maxLength: 20 }))
        .map(([s, i, n, ins]) => {
          const b = deliver(s.body);
          const p = i % (b.length + 1);
          return b.slice(0, p) + ins + b.slice(p + (n % 20));
        }),
    );

    it('random and mutated bodies and headers only ever fail as bad input, and make well-formed events', () => {
      fc.assert(
        fc.property(bodies, headers, (body, h: Headers) => {
          const raw = Buffer.from(body);
          let parsed: unknown;
          try {
            parsed = a.parse ? a.parse(raw, h) : JSON.parse(body);
          } catch (err) {
            // The plugin answers 400 to both: the adapter's input error, or malformed JSON.
            if (err instanceof AdapterInputError || err instanceof SyntaxError) return;
            throw err;
          }
          a.deliveryId(h, parsed); // outside the plugin's catch: must not throw at all
          try {
            for (const e of a.toEvents(parsed, h, at).events) wellFormed(e, body.slice(0, 200));
          } catch (err) {
            expect(err, body.slice(0, 200)).toBeInstanceOf(AdapterInputError);
          }
          for (const line of a.lines?.length ? body.split('\n') : []) {
            for (const f of a.lines!) {
              const e = f.read(line, at, { transport: 'syslog/tcp', host: 'h' });
              if (e) wellFormed(e, line);
            }
          }
        }),
        { numRuns: 500 },
      );
    });

    it('never verifies without the secret', () => {
      const env = { [a.secretEnv]: a.testing.secretValue ? a.testing.secretValue(SECRET) : SECRET };
      const config = withEnv(env, () => a.configSchema.parse({}));
      const unconfigured = withEnv({}, () => a.configSchema.parse({}));
      expect(config.enabled, 'the secret enables the source').toBe(true);
      const raws = fc.oneof(
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
        fc.constantFrom(...samples).map((s) => Buffer.from(deliver(s.body))),
      );
      fc.assert(
        fc.property(raws, randomHeaders, fc.boolean(), (raw, h, wrongSigned) => {
          // Random credentials, or the source's own scheme under another secret.
          const sent = wrongSigned ? { ...h, ...a.testing.sign(raw, WRONG, at) } : h;
          expect(a.verify(raw, sent, config, at).ok).toBe(false);
          // No secret configured: even the right signature is refused.
          expect(a.verify(raw, { ...h, ...a.testing.sign(raw, SECRET, at) }, unconfigured, at).ok).toBe(
            false,
          );
        }),
        { numRuns: 400 },
      );
      // The property is not vacuous: the source's own signature over a sample, with the secret, passes
      // (CircleCI also holds happened_at to a max age, so it is checked at the sample's own time).
      const s = samples.find((x) => typeof x.body !== 'string') ?? samples[0]!;
      const raw = Buffer.from(deliver(s.body));
      const happened = (s.body as { happened_at?: string }).happened_at;
      const now = happened ? new Date(happened) : at;
      expect(a.verify(raw, a.testing.sign(raw, SECRET, now), config, now)).toEqual({ ok: true });
    });
  });
}
