// Real CI output with no secret in it: the scanner must stay quiet (GitLab Runner prints truncated job
// tokens, "token=AdWPNg2R", and words such as secret and token; GitHub masks registered values as ***).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { scanText } from '../../src/secrets/scanner.ts';

const KEY = 'benign-test-fingerprint-key';
const fixture = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');
const body = (p: string) => JSON.parse(fixture(p)).body as string;

describe('secrets scanner on real benign CI logs', () => {
  it.each([
    ['GitLab sample job trace', fixture('src/ingest/build-logs/fixtures/gitlab_sample_trace.txt')],
    ['GitLab trace with sections', body('src/ingest/build-logs/fixtures/trace-with-sections.json')],
    [
      'GitHub Actions log with masked secrets',
      body('src/ingest/build-logs/fixtures/job-log__checkout-masked-secrets.json'),
    ],
    [
      'GitHub Actions log, every secret masked',
      fixture('test/fixtures/build-logs/github-actions-masked.log'),
    ],
  ])('%s: no finding', (_name, text) => {
    expect(text.length).toBeGreaterThan(100);
    expect(scanText(text, { fingerprintKey: KEY, job: 'benign' })).toEqual([]);
  });
});
