// Every rule regex must run in (near) linear time on hostile input: long runs of the characters the
// pattern repeats, near-matches that fail at the last character, alternating patterns. A catastrophic
// backtracking pattern takes seconds to years on these; a linear one takes milliseconds.
import { describe, expect, it } from 'vitest';
import { RULES } from '../../src/secrets/rules.ts';
import { SecretEngine } from '../../src/secrets/scanner.ts';
import { rng, SAMPLES } from '../support/secret-samples.ts';

const N = 50_000;
const BOUND_MS = 200;

function adversarialInputs(ruleId: string): Array<[string, string]> {
  const sample = SAMPLES[ruleId]!.positive(rng(1));
  const near = sample.line.slice(0, -1); // a match that fails at the very end
  const kw = RULES.find((r) => r.id === ruleId)!.keywords[0] ?? '';
  const inputs: Array<[string, string]> = [];
  for (const ch of ['a', 'A', '0', 'f', '-', '_', '.', '/', '+', '=', ':', '@', '%', ' ', '\\', '"', '~']) {
    inputs.push([`run of ${JSON.stringify(ch)}`, ch.repeat(N)]);
    inputs.push([`keyword + run of ${JSON.stringify(ch)}`, `${kw}${ch.repeat(N)}`]);
  }
  inputs.push(['repeated keyword', kw.repeat(Math.ceil(N / Math.max(1, kw.length)))]);
  inputs.push(['repeated near-match', near.repeat(Math.ceil(N / near.length))]);
  inputs.push(['near-match + junk tail', `${near}${'x'.repeat(N)}!`]);
  inputs.push(['alternating a:', 'a:'.repeat(N / 2)]);
  inputs.push(['alternating a@', 'a@'.repeat(N / 2)]);
  inputs.push(['alternating -=', 'a-='.repeat(N / 3)]);
  inputs.push(['scheme soup', 'postgres://a:'.repeat(N / 13)]);
  inputs.push(['assignment soup', 'password=a'.repeat(N / 10)]);
  inputs.push(['dotted', 'eyJa.'.repeat(N / 5)]);
  inputs.push(['pem soup', `-----BEGIN PRIVATE KEY-----${'A'.repeat(N)}`]);
  inputs.push(['login soup', `docker login ${'-u x '.repeat(N / 6)}`]);
  inputs.push(['curl soup', `curl ${'-u a '.repeat(N / 5)}`]);
  return inputs;
}

describe('secrets-regex-safety', () => {
  for (const rule of RULES) {
    it(`${rule.id}: every adversarial input in under ${BOUND_MS} ms`, () => {
      const re = new RegExp(rule.regex.source, rule.regex.flags);
      for (const [name, input] of adversarialInputs(rule.id)) {
        const t0 = performance.now();
        re.lastIndex = 0;
        let n = 0;
        while (re.exec(input) !== null && n++ < 100_000) {}
        const ms = performance.now() - t0;
        expect(ms, `${rule.id} on ${name}: ${ms.toFixed(1)} ms`).toBeLessThan(BOUND_MS);
      }
    });
  }

  it('the whole engine (prefilter, rules, decoding) stays fast on hostile lines', () => {
    const engine = new SecretEngine();
    const lines = [
      'A'.repeat(16_384),
      'aB3'.repeat(5_461),
      '%41'.repeat(5_461),
      'ghp_'.repeat(4_096),
      `${'password='.repeat(1_800)}`,
      'ab'.repeat(8_192),
      `${'QUJD'.repeat(4_096)}`,
    ];
    for (const line of lines) {
      const t0 = performance.now();
      engine.match(line);
      const ms = performance.now() - t0;
      expect(ms, `${line.slice(0, 12)}…: ${ms.toFixed(1)} ms`).toBeLessThan(BOUND_MS);
    }
  });
});
