import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RULES } from '../../src/secrets/rules.ts';
import { type Finding, scanText } from '../../src/secrets/scanner.ts';
import { rng, SAMPLES } from '../support/secret-samples.ts';

const KEY = 'test-fingerprint-key-0123456789';
const opts = { fingerprintKey: KEY, job: 'build-42' };
const fp = (s: string): string => createHmac('sha256', KEY).update(s).digest('hex');
const keyBody = (s: string): string => s.replace(/\\[nr]/g, '').replace(/[^A-Za-z0-9+/=]/g, '');
const expectedSecret = (ruleId: string, secret: string): string =>
  ruleId === 'private-key' ? keyBody(secret) : secret;

/** No 8-character run of the secret beyond its shown prefix appears in the serialised findings. */
function assertNoLeak(findings: Finding[], secret: string, prefix: number): void {
  const json = JSON.stringify(findings);
  expect(json.includes(secret)).toBe(false);
  const hidden = secret.slice(prefix);
  for (let i = 0; i + 8 <= hidden.length; i++) {
    const piece = hidden.slice(i, i + 8);
    if (json.includes(piece)) throw new Error(`Finding JSON leaks "${piece}…" of the secret`);
  }
}

describe('secrets-rules', () => {
  it('every rule has samples and every sample a rule; ids are unique kebab-case', () => {
    const ids = RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
    expect(Object.keys(SAMPLES).sort()).toEqual([...ids].sort());
  });

  it('rules are well-formed: global regex, lowercase ASCII keywords, generic tier is lower severity', () => {
    for (const r of RULES) {
      expect(r.regex.global, r.id).toBe(true);
      for (const k of r.keywords) expect(k, r.id).toBe(k.toLowerCase());
      if (r.tier === 'generic') expect(['low', 'medium'], r.id).toContain(r.severity);
    }
    expect(RULES.filter((r) => r.tier === 'high').length).toBeGreaterThanOrEqual(90);
  });

  for (const rule of RULES) {
    describe(rule.id, () => {
      it('finds a realistic fake token (3 seeds) with the right fingerprint, no leak', () => {
        for (const seed of [1, 2, 3]) {
          const s = SAMPLES[rule.id]!.positive(rng(seed * 7919 + rule.id.length));
          const findings = scanText(s.line, opts);
          const mine = findings.filter((f) => f.ruleId === rule.id);
          expect(mine, `${rule.id} on: ${s.line.slice(0, 120)}`).toHaveLength(1);
          expect(mine[0]!.fingerprint).toBe(fp(expectedSecret(rule.id, s.secret)));
          expect(mine[0]!.tier).toBe(rule.tier);
          expect(mine[0]!.job).toBe('build-42');
          expect(mine[0]!.line).toBe(1);
          assertNoLeak(findings, s.secret, rule.prefix ?? 0);
        }
      });

      it('ignores a near miss', () => {
        for (const seed of [1, 2, 3]) {
          const line = SAMPLES[rule.id]!.negative(rng(seed));
          const findings = scanText(line, opts).filter((f) => f.ruleId === rule.id);
          expect(findings, `${rule.id} on: ${line.slice(0, 120)}`).toHaveLength(0);
        }
      });

      it('does not report the value once CI masked it', () => {
        const s = SAMPLES[rule.id]!.positive(rng(99));
        for (const mask of ['***', '[MASKED]', '[REDACTED]', '********']) {
          const masked = s.line.split(s.secret).join(mask);
          const findings = scanText(masked, opts);
          expect(findings, `${rule.id} masked as ${mask}: ${masked.slice(0, 120)}`).toHaveLength(0);
        }
      });
    });
  }

  it('previews show at most the known prefix and the last 4 characters', () => {
    for (const rule of RULES) {
      const s = SAMPLES[rule.id]!.positive(rng(5));
      const f = scanText(s.line, opts).find((x) => x.ruleId === rule.id)!;
      if (rule.id === 'private-key') {
        expect(f.preview).toMatch(/^-----BEGIN [A-Z ]*PRIVATE KEY-----$/);
        continue;
      }
      const [head, tail] = f.preview.split('…') as [string, string];
      expect(head.length, rule.id).toBeLessThanOrEqual(rule.prefix ?? 0);
      expect(s.secret.startsWith(head), rule.id).toBe(true);
      expect(tail.length, rule.id).toBeLessThanOrEqual(4);
      expect(s.secret.endsWith(tail), rule.id).toBe(true);
    }
  });

  it('generic tier skips placeholders, references and known non-secret shapes', () => {
    const lines = [
      'password = changeme123!',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal CI variable reference, not a template
      'DB_PASSWORD=${DB_PASSWORD}',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal CI variable reference, not a template
      'token: ${{ secrets.NPM_TOKEN }}',
      'api_key: $API_KEY',
      'secret = <redacted>',
      'password: xxxxxxxxxx',
      'PASSWORD=*****',
      'client_secret: [MASKED]',
      'token = example-token-123',
      'password = dummyPass99',
      'commit_token = 3f786850e387550fdab836ed7e6dc881de23001b',
      'integrity_token: sha512-Q2hlY2sgdGhpcyBvdXQgaXQgaXMgYSBoYXNoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==',
      'image_key=sha256:4bc453b53cb3d914b45f4b250294236adba2c0e09ff6f03793949e7e39fd4cc1',
      'session_token = 123e4567-e89b-42d3-a456-426614174000',
      'secret_file=/etc/ssl/private/server.key',
      'key_version=v1.2.3-rc.1',
      'token = process.env.GITHUB_TOKEN',
      'password: GITHUB_TOKEN_SECRET',
      'keyboard=us-international',
      'Tests passed: 142, failed: 0',
    ];
    for (const line of lines) expect(scanText(line, opts), line).toEqual([]);
  });

  it('generic tier finds real-looking assignments in common shapes', () => {
    const r = rng(11);
    const pw = () => `Qz${Math.floor(r() * 1e9)}xT!${Math.floor(r() * 1e4)}`;
    const lines = [
      `export MYSQL_ROOT_PASSWORD=${pw()}`,
      `  "clientSecret": "${pw()}",`,
      `secret_key: '${pw()}'`,
      `spring.datasource.password=${pw()}`,
      `+ helm upgrade app ./chart --set db.password=${pw()}`,
    ];
    for (const line of lines) {
      const f = scanText(line, opts);
      expect(f.length, line).toBe(1);
      expect(f[0]!.tier, line).toBe('generic');
    }
  });
});
