import { describe, expect, it } from 'vitest';
import { redactLine, StreamScanner, scanText } from '../../src/secrets/scanner.ts';
import { A62, A64, pemBody, rng, str } from '../support/secret-samples.ts';

const KEY = 'test-fingerprint-key-0123456789';
const opts = { fingerprintKey: KEY, job: 'deploy' };
const r = rng(2024);
const ghp = `ghp_${str(r, A62, 36)}`;
const slack = `xoxb-${str(r, '0123456789', 12)}-${str(r, '0123456789', 13)}-${str(r, A62, 24)}`;

describe('secrets-scanner', () => {
  it('finds a token split at every possible chunk boundary exactly once', () => {
    const text = `step 1\n2024-05-01T10:00:00.1234567Z + git push https://x:${ghp}@github.com/a/b\nstep 3\n`;
    const whole = scanText(text, opts);
    expect(whole).toHaveLength(1);
    for (let i = 1; i < text.length; i++) {
      const s = new StreamScanner(opts);
      const got = [...s.push(text.slice(0, i)), ...s.push(text.slice(i)), ...s.end()];
      expect(got, `split at ${i}`).toEqual(whole);
    }
  });

  it('handles one-character chunks and counts lines across chunks', () => {
    const text = `a\nb\nc\nexport NPM=${ghp}\r\n`;
    const s = new StreamScanner(opts);
    const got = [...text].flatMap((ch) => s.push(ch));
    got.push(...s.end());
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ line: 4, column: 12, ruleId: 'github-pat' });
  });

  it('strips ANSI colours, GitHub Actions timestamps and GitLab section markers', () => {
    const lines = [
      `\x1b[36;1mexport TOKEN=\x1b[0m${ghp}`,
      `2024-01-01T00:00:00.0000000Z ${ghp}`,
      `section_start:1700000000:step_script\r\x1b[0K\x1b[0;m$ echo ${ghp}`,
      `2024-01-01T00:00:00.000000Z 00O+ token ${ghp}`,
    ];
    for (const line of lines) {
      const f = scanText(line, opts);
      expect(f, JSON.stringify(line)).toHaveLength(1);
      expect(f[0]!.ruleId).toBe('github-pat');
    }
    // A colour code inside the token does not break it.
    expect(scanText(`${ghp.slice(0, 10)}\x1b[1m${ghp.slice(10)}`, opts)).toHaveLength(1);
  });

  it('scans every \\r progress segment, reports a redrawn secret once per line', () => {
    const bar = (p: number) => `Cloning https://ci:${'Zq8'}Lm2pT7vR4@git.acme.io/app.git ${p}%`;
    const f = scanText(`${bar(10)}\r${bar(50)}\r${bar(100)}\n`, opts);
    expect(f).toHaveLength(1);
    expect(f[0]!.ruleId).toBe('url-basic-auth');
    // Overwritten text is still in the stored log: a secret before the last \r is found too.
    expect(scanText(`token ${ghp}\rDone.         \n`, opts)).toHaveLength(1);
    expect(scanText(`Downloading 10%\rDownloading 100% ${slack}\n`, opts)[0]!.ruleId).toBe('slack-bot-token');
  });

  it('finds secrets inside base64, hex and percent-encoded values', () => {
    const b64 = Buffer.from(`{"token":"${ghp}"}`).toString('base64');
    const hex = Buffer.from(`GH=${ghp}`).toString('hex');
    const hook = `https://hooks.slack.com/services/T${str(r, 'ABCDEFGHJK0123456789', 8)}/B${str(r, 'ABCDEFGHJK0123456789', 10)}/${str(r, A62, 24)}`;
    const pct = encodeURIComponent(hook);
    const twice = encodeURIComponent(Buffer.from(`export X=${slack}`).toString('base64'));
    const cases: Array<[string, string, string]> = [
      [`echo ${b64} | base64 -d`, 'github-pat', 'base64'],
      [`payload=${hex}`, 'github-pat', 'hex'],
      [`callback=${pct}`, 'slack-webhook-url', 'percent'],
      [`q=${twice}`, 'slack-bot-token', 'base64'], // the unpadded base64 run decodes on its own
      [
        `  .dockerconfigjson: ${Buffer.from(`{"auths":{"r.io":{"auth":"${Buffer.from('u:Pq9xLm2Rt7Kz').toString('base64')}"}}}`).toString('base64')}`,
        'docker-config-auth',
        'base64',
      ],
    ];
    for (const [line, ruleId, encoding] of cases) {
      const f = scanText(line, opts);
      expect(f, line).toHaveLength(1);
      expect(f[0], line).toMatchObject({ ruleId, encoding });
    }
    // Same fingerprint as the plain token.
    expect(scanText(`echo ${b64}`, opts)[0]!.fingerprint).toBe(scanText(ghp, opts)[0]!.fingerprint);
  });

  it('does not decode hashes, digests, paths or UUIDs into findings', () => {
    const lines = [
      'commit 3f786850e387550fdab836ed7e6dc881de23001b',
      '"integrity": "sha512-4ZNYXqNl0cN6xCb2CNkC7ExtfShHNb4KDDH0cWYwOj/tyLqSqMu+D3OeoJ3mBdyn7V5xb5X7+v0ppCiEGmMr4w=="',
      'Digest: sha256:4bc453b53cb3d914b45f4b250294236adba2c0e09ff6f03793949e7e39fd4cc1',
      'request-id 123e4567-e89b-42d3-a456-426614174000',
      '/home/runner/work/acme-platform/acme-platform/node_modules/typescript/lib/tsc.js',
    ];
    for (const line of lines) expect(scanText(line, opts), line).toEqual([]);
  });

  it('assembles multi-line private keys (PEM, OpenSSH, EC, PGP) across chunks', () => {
    const kinds = [
      'RSA PRIVATE KEY',
      'OPENSSH PRIVATE KEY',
      'EC PRIVATE KEY',
      'PRIVATE KEY',
      'PGP PRIVATE KEY BLOCK',
    ];
    for (const kind of kinds) {
      const body = pemBody(rng(kind.length), 12);
      const header = kind.startsWith('PGP') ? ['Version: GnuPG v2', ''] : [];
      const text = [
        'Installing key...',
        ...[`-----BEGIN ${kind}-----`, ...header, ...body, `-----END ${kind}-----`].map(
          (l) => `2024-01-01T00:00:00.0000000Z ${l}`,
        ),
        'done',
      ].join('\n');
      const s = new StreamScanner(opts);
      const got = [];
      for (let i = 0; i < text.length; i += 37) got.push(...s.push(text.slice(i, i + 37)));
      got.push(...s.end());
      expect(got, kind).toHaveLength(1);
      expect(got[0]).toMatchObject({ ruleId: 'private-key', line: 2, preview: `-----BEGIN ${kind}-----` });
      expect(JSON.stringify(got)).not.toContain(body[3]!.slice(0, 16));
      // The same key printed on one line (JSON escapes) has the same fingerprint.
      const oneLine = `"key": "-----BEGIN ${kind}-----\\n${body.join('\\n')}\\n-----END ${kind}-----\\n"`;
      expect(scanText(oneLine, opts)[0]!.fingerprint, kind).toBe(got[0]!.fingerprint);
    }
  });

  it('reports a truncated key block, ignores a masked or empty one', () => {
    const body = pemBody(rng(3), 5);
    expect(
      scanText(['-----BEGIN RSA PRIVATE KEY-----', ...body, 'Error: invalid key'].join('\n'), opts),
    ).toHaveLength(1);
    expect(
      scanText(['-----BEGIN RSA PRIVATE KEY-----', '***', '-----END RSA PRIVATE KEY-----'].join('\n'), opts),
    ).toEqual([]);
    expect(scanText(['-----BEGIN PRIVATE KEY-----', '-----END PRIVATE KEY-----'].join('\n'), opts)).toEqual(
      [],
    );
  });

  it('fingerprints are stable across scanners and differ under another key', () => {
    const a = scanText(ghp, opts)[0]!.fingerprint;
    const b = scanText(`other line\n  ${ghp}`, { ...opts, job: 'x' })[0]!.fingerprint;
    const c = scanText(ghp, { ...opts, fingerprintKey: 'another-deployment-key-987654' })[0]!.fingerprint;
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('requires a fingerprint key of at least 16 bytes', () => {
    expect(() => new StreamScanner({ fingerprintKey: 'short', job: 'j' })).toThrow(/16 bytes/);
  });

  it('suppresses by fingerprint and by rule id', () => {
    const text = `${ghp}\n${slack}\n`;
    const all = scanText(text, opts);
    expect(all).toHaveLength(2);
    expect(
      scanText(text, { ...opts, suppressFingerprints: [all[0]!.fingerprint] }).map((f) => f.ruleId),
    ).toEqual(['slack-bot-token']);
    expect(scanText(text, { ...opts, suppressRules: ['slack-bot-token'] }).map((f) => f.ruleId)).toEqual([
      'github-pat',
    ]);
  });

  it('scans over-long lines in overlapping windows, with bounded carry, exactly once per secret', () => {
    const filler = (n: number) => 'lorem ipsum dolor sit amet '.repeat(Math.ceil(n / 27)).slice(0, n);
    for (const at of [0, 12_000, 12_287, 12_288, 12_290, 16_380, 24_570, 40_000]) {
      const line = `${filler(at)} ${ghp} ${filler(60_000 - at)}`;
      const s = new StreamScanner(opts);
      const got = [];
      for (let i = 0; i < line.length; i += 1000) got.push(...s.push(line.slice(i, i + 1000)));
      got.push(...s.push('\n'), ...s.end());
      expect(got, `at ${at}`).toHaveLength(1);
      expect(got[0]!.column, `at ${at}`).toBe(at + 2);
      expect((s as unknown as { carry: string }).carry.length).toBe(0);
    }
    // While a line never ends, the carry stays bounded.
    const s = new StreamScanner(opts);
    for (let i = 0; i < 200; i++) s.push(filler(10_000));
    expect((s as unknown as { carry: string }).carry.length).toBeLessThanOrEqual(16_384 + 12_288 + 10_000);
  });

  it('redactLine replaces each secret by its preview and leaves clean lines alone', () => {
    const line = `\x1b[33mexport GITHUB_TOKEN=${ghp}; DATABASE_URL=postgres://app:Kd93jsLq2@db:5432/x\x1b[0m`;
    const out = redactLine(line);
    expect(out).toBe(`export GITHUB_TOKEN=ghp_…${ghp.slice(-4)}; DATABASE_URL=postgres://app:…@db:5432/x`);
    expect(redactLine('npm ci --no-audit')).toBe('npm ci --no-audit');
    const b64 = Buffer.from(`t=${ghp}`).toString('base64');
    expect(redactLine(`echo ${b64}`)).toBe(`echo [base64:ghp_…${ghp.slice(-4)}]`);
  });

  it('redacting stream mode withholds secrets and multi-line key bodies', () => {
    const body = pemBody(rng(8), 4);
    const text = `start\n${ghp}\n-----BEGIN EC PRIVATE KEY-----\n${body.join('\n')}\n-----END EC PRIVATE KEY-----\nend`;
    const s = new StreamScanner({ ...opts, redact: true });
    s.push(text);
    s.end();
    const red = s.takeRedacted();
    expect(red).not.toContain(ghp);
    for (const b of body) expect(red).not.toContain(b);
    expect(red.split('\n')).toHaveLength(text.split('\n').length);
    // Long lines are redacted window by window without losing or duplicating text.
    const long = `${'x'.repeat(12_280)} ${ghp} ${'y'.repeat(30_000)}`;
    const s2 = new StreamScanner({ ...opts, redact: true });
    for (let i = 0; i < long.length; i += 777) s2.push(long.slice(i, i + 777));
    s2.push('\n');
    s2.end();
    expect(s2.takeRedacted()).toBe(`${'x'.repeat(12_280)} ghp_…${ghp.slice(-4)} ${'y'.repeat(30_000)}\n`);
  });

  it('a findings stream over a noisy log never contains any planted secret', () => {
    const secrets = [ghp, slack, `AKIA${str(r, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`, str(r, A64, 40)];
    const text = [
      `export GH=${secrets[0]}`,
      `SLACK=${secrets[1]}`,
      `AWS_ACCESS_KEY_ID=${secrets[2]}`,
      `aws_secret_access_key=${secrets[3]}`,
    ].join('\n');
    const json = JSON.stringify(scanText(text, opts));
    for (const s of secrets) expect(json).not.toContain(s.slice(4, -4));
  });
});

describe('secrets-scanner fixtures', () => {
  it('a CI log whose secrets are all masked yields no finding', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(
      new URL('../fixtures/build-logs/github-actions-masked.log', import.meta.url),
      'utf8',
    );
    expect(scanText(text, opts)).toEqual([]);
  });
});
