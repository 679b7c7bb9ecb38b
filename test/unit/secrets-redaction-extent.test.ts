// Issue 12: a generic match used to end the value at `; , < > ( ) { } [ ]`, a quote or a space, so the
// redacted log kept the rest of the password in clear (`DB_PASSWORD=<part1>;<part2>` kept `<part2>`).
// The value is now redacted to its longest plausible extent: to the closing quote, else to the end of the
// unquoted token. Every delimiter, in every quoting, in both redaction paths (redactLine and the stream).
import { describe, expect, it } from 'vitest';
import { redactLine, StreamScanner, scanText } from '../../src/secrets/scanner.ts';
import { A62, rng, str } from '../support/secret-samples.ts';

const KEY = 'redaction-extent-test-key';
const DELIMITERS = [';', ',', '<', '>', '(', ')', '{', '}', '[', ']', '"', "'", ' '];

interface Case {
  line: string;
  parts: string[];
}

function cases(d: string, seed: number): Case[] {
  const r = rng(seed);
  const p1 = `Qz${str(r, A62, 10)}7!`;
  const p2 = `Wk${str(r, A62, 10)}3`;
  const v = `${p1}${d}${p2}`;
  const parts = [p1, p2];
  const out: Case[] = [];
  // Unquoted: a token cannot hold a space.
  if (d !== ' ') out.push({ line: `export DB_PASSWORD=${v}`, parts });
  // Quoted with a quote the value does not contain.
  if (d !== '"') {
    out.push({ line: `+ ./deploy.sh --password "${v}" --env prod`, parts });
    out.push({ line: `  "db_password": "${v}",`, parts });
    out.push({ line: `+ curl -sf -u "deploy:${v}" https://nexus.acme.io/service/rest`, parts });
  }
  if (d !== "'") out.push({ line: `api_secret: '${v}'`, parts });
  // JSON with the quote escaped inside the value.
  if (d === '"') out.push({ line: `{"password": "${p1}\\"${p2}"}`, parts });
  return out;
}

function streamRedacted(text: string): string {
  const s = new StreamScanner({ fingerprintKey: KEY, job: 'extent', redact: true });
  s.push(text);
  s.end();
  return s.takeRedacted();
}

describe('secrets redaction extent', () => {
  for (const d of DELIMITERS) {
    it(`a value containing ${JSON.stringify(d)} is redacted whole, in every quoting`, () => {
      const all = cases(d, d.charCodeAt(0));
      expect(all.length).toBeGreaterThan(0);
      for (const c of all) {
        expect(scanText(c.line, { fingerprintKey: KEY, job: 'extent' }).length, c.line).toBeGreaterThan(0);
        const one = redactLine(c.line);
        const streamed = streamRedacted(`${c.line}\n`);
        for (const part of c.parts) {
          expect(one, `redactLine kept ${part} of: ${c.line}`).not.toContain(part);
          expect(streamed, `stream kept ${part} of: ${c.line}`).not.toContain(part);
        }
      }
    });
  }

  it('stops at the closing quote: what follows the value stays readable', () => {
    const line = '+ ./deploy.sh --password "Qz81ks;Lm2Pq9Wn" --env production';
    const red = redactLine(line);
    expect(red).toContain('--env production');
    expect(red).not.toContain('Lm2Pq9Wn');
  });

  it('an XML element value is redacted to the closing tag', () => {
    const line = '    <password>Qz81ks Lm2Pq9Wn</password>';
    const red = redactLine(line);
    expect(red).not.toContain('Lm2Pq9Wn');
    expect(red).toContain('</password>');
  });
});
