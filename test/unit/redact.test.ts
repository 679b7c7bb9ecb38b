// redactPayload scans first and copies only when something must change: the result must be exactly what
// the plain deep copy gave (the oracle below, the previous implementation), and a payload with nothing to
// redact comes back as the same object.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactPayload } from '../../src/event.ts';

const SECRET_KEY =
  /(secret|token|password|passwd|authorization|api[_-]?key|private[_-]?key|credential|signature)/i;
function oracle(value: unknown, depth = 0): unknown {
  if (depth > 32) return '[depth limit]';
  if (Array.isArray(value)) return value.map((v) => oracle(v, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        SECRET_KEY.test(k) && typeof v === 'string' && v.length > 0 ? '[REDACTED]' : oracle(v, depth + 1),
      ]),
    );
  }
  return value;
}

const keys = fc.oneof(
  fc.string(),
  fc.constantFrom(
    'token',
    'api_key',
    'Authorization',
    'secret_scanning',
    'token_scopes',
    '__proto__',
    'name',
  ),
);
const json = fc
  .letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(keys, tie('value'), { maxKeys: 5 }),
    ),
  }))
  // What the adapters hand over is JSON.parse's output (plain prototypes, "__proto__" as an own key).
  .value.map((v) => JSON.parse(JSON.stringify(v)) as unknown);

function nested(depth: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { level: v };
  return v;
}

describe('redactPayload', () => {
  it('gives exactly what the deep copy gave, on any JSON value', () => {
    fc.assert(
      fc.property(json, (v) => {
        expect(redactPayload(v)).toStrictEqual(oracle(v));
      }),
      { numRuns: 2_000 },
    );
  });

  it('returns a payload with nothing to redact as it is, without copying', () => {
    const body = {
      repository: { full_name: 'octo-org/octo-repo' },
      token_scopes: ['repo'],
      secret_scanning: { status: 'enabled' },
    };
    expect(redactPayload(body)).toBe(body);
  });

  it('copies when a credential-looking key holds a string, and leaves the input untouched', () => {
    const body = {
      hook: { config: { url: 'https://example.test', secret: 'hunter2-hunter2' } },
      list: [{ a: 1 }],
    };
    const out = redactPayload(body) as typeof body;
    expect(out).not.toBe(body);
    expect(out.hook.config.secret).toBe('[REDACTED]');
    expect(body.hook.config.secret).toBe('hunter2-hunter2');
    expect(out.list).toStrictEqual([{ a: 1 }]);
  });

  it('cuts payloads nested deeper than 32 levels where the copy did, for objects, arrays and leaves', () => {
    for (const depth of [31, 32, 33, 40]) {
      for (const leaf of ['text', 7, null, { token: 'abc' }, []]) {
        const v = nested(depth, leaf);
        expect(redactPayload(v)).toStrictEqual(oracle(v));
      }
    }
  });
});

describe('redactPayload, past the remembered verdicts', () => {
  it('judges keys the same once thousands of distinct keys were seen, and keys too long to remember', () => {
    const many = Object.fromEntries(Array.from({ length: 6_000 }, (_, i) => [`field_${i}`, 'plain']));
    expect(redactPayload(many)).toBe(many);
    const body = {
      ...many,
      [`${'x'.repeat(100)}_password`]: 'hunter2',
      deploy_token_9999: 'glpat-abc',
      note_9999: 'kept',
    };
    expect(redactPayload(body)).toStrictEqual(oracle(body));
    // And again, with the verdicts now remembered (or not, past the bound): the same answer.
    expect(redactPayload(body)).toStrictEqual(oracle(body));
    expect((redactPayload(body) as Record<string, string>).deploy_token_9999).toBe('[REDACTED]');
  });
});
