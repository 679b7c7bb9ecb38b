// Issue 10 item 9: the embedded data directory is 0700 and its SQLite files 0600 (new and existing);
// source secrets shorter than 16 characters or all whitespace are refused; a secretEnv named on purpose
// but unset is an error naming that variable; `config check` lists every source as on or off and why.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adapters } from '../../ingest-adapters/index.ts';
import { startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { sourceStatus } from '../../src/config/status.ts';
import { createLogger } from '../../src/log.ts';

const mode = (p: string) => statSync(p).mode & 0o777;
const GOOD = 'a-good-long-secret-0123';

describe('embedded files', () => {
  it('creates the data dir 0700 and every SQLite file 0600, and narrows existing ones', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pw-files-'));
    const process_umask = process.umask(0o022);
    try {
      for (const existing of [false, true]) {
        const dataDir = join(root, existing ? 'old' : 'new', 'data');
        if (existing) {
          // An install from before: 0755 directory, 0644 files.
          mkdirSync(dataDir, { recursive: true, mode: 0o755 });
          chmodSync(dataDir, 0o755);
          for (const f of ['bus.sqlite', 'store.sqlite', 'detect-state.sqlite']) {
            writeFileSync(join(dataDir, f), '', { mode: 0o644 });
            chmodSync(join(dataDir, f), 0o644);
          }
        }
        const config = parseConfig(
          { mode: 'embedded', embedded: { dataDir }, log: { level: 'silent' } },
          { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: GOOD },
        );
        const app = await startApp(config, { port: 0, log: createLogger({ level: 'silent' }) });
        try {
          expect(mode(dataDir).toString(8)).toBe('700');
          const files = readdirSync(dataDir).filter((f) => f.includes('.sqlite'));
          expect(files).toEqual(
            expect.arrayContaining(['bus.sqlite', 'store.sqlite', 'detect-state.sqlite']),
          );
          for (const f of files) expect(`${f} ${mode(join(dataDir, f)).toString(8)}`).toBe(`${f} 600`);
        } finally {
          await app.stop();
        }
      }
    } finally {
      process.umask(process_umask);
    }
  });
});

describe('source secrets', () => {
  const problems = (env: Record<string, string>, sources: Record<string, unknown> = {}) => {
    try {
      parseConfig({ sources }, env);
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('refuses a secret shorter than 16 characters, naming the variable and the path', () => {
    expect(problems({ PIPEWARDEN_JENKINS_SECRET: 'x' })).toMatch(
      /sources\.jenkins\.secretEnv: \$PIPEWARDEN_JENKINS_SECRET holds 1 characters; a source secret must have at least 16/,
    );
    expect(problems({ PIPEWARDEN_JENKINS_SECRET: 'x'.repeat(16) })).toBe('');
  });

  it('refuses an all-whitespace secret, including a previous or additional one', () => {
    expect(problems({ PIPEWARDEN_NEXUS_SECRET: ' '.repeat(20) })).toMatch(
      /sources\.nexus\.secretEnv: \$PIPEWARDEN_NEXUS_SECRET is all whitespace/,
    );
    expect(problems({ PIPEWARDEN_NEXUS_SECRET: GOOD, PIPEWARDEN_NEXUS_SECRET_PREVIOUS: 'short' })).toMatch(
      /sources\.nexus\.previousSecretEnv: \$PIPEWARDEN_NEXUS_SECRET_PREVIOUS holds 5 characters/,
    );
    expect(
      problems(
        { PIPEWARDEN_NEXUS_SECRET: GOOD, ORG_B: '\t \t' },
        { nexus: { additionalSecretEnvs: ['ORG_B'] } },
      ),
    ).toMatch(/sources\.nexus\.additionalSecretEnvs\.0: \$ORG_B is all whitespace/);
  });

  it('refuses a secretEnv named on purpose but unset, naming that variable (not the default)', () => {
    const text = problems({}, { jenkins: { secretEnv: 'MY_JENKINS_SECRET' } });
    expect(text).toMatch(
      /sources\.jenkins\.secretEnv: \$MY_JENKINS_SECRET \(or \$MY_JENKINS_SECRET_FILE\) is not set/,
    );
    expect(text).not.toContain('PIPEWARDEN_JENKINS_SECRET');
    const enabled = problems({}, { jenkins: { enabled: true, secretEnv: 'MY_JENKINS_SECRET' } });
    expect(enabled).toContain('$MY_JENKINS_SECRET');
    expect(enabled).not.toContain('PIPEWARDEN_JENKINS_SECRET');
  });
});

describe('config check', () => {
  it('lists every source as on or off and why', () => {
    const config = parseConfig(
      { sources: { harbor: { enabled: false } } },
      { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: GOOD, PIPEWARDEN_HARBOR_TOKEN: `Bearer ${GOOD}` },
    );
    const lines = sourceStatus(config);
    expect(lines).toHaveLength(adapters.length);
    expect(lines).toContain('github: on (secret from $PIPEWARDEN_GITHUB_WEBHOOK_SECRET)');
    expect(lines).toContain('jenkins: off ($PIPEWARDEN_JENKINS_SECRET is not set)');
    expect(lines).toContain('harbor: off (enabled: false, although $PIPEWARDEN_HARBOR_TOKEN is set)');
  });

  it('pipewarden config check prints them, and exits 78 naming an unset configured variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-check-'));
    const cli = new URL('../../src/cli.ts', import.meta.url).pathname;
    const env = { PATH: process.env.PATH ?? '', PIPEWARDEN_GITHUB_WEBHOOK_SECRET: GOOD };
    const ok = spawnSync(process.execPath, [cli, 'config', 'check'], { env, encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('  github: on (secret from $PIPEWARDEN_GITHUB_WEBHOOK_SECRET)');
    expect(ok.stdout).toContain('  gitlab: off ($PIPEWARDEN_GITLAB_WEBHOOK_TOKEN is not set)');
    writeFileSync(join(dir, 'c.yaml'), 'sources:\n  gitlab:\n    secretEnv: OUR_GITLAB_TOKEN\n');
    const bad = spawnSync(process.execPath, [cli, 'config', 'check', '--config', join(dir, 'c.yaml')], {
      env,
      encoding: 'utf8',
    });
    expect(bad.status).toBe(78);
    expect(bad.stderr).toMatch(
      /sources\.gitlab\.secretEnv: \$OUR_GITLAB_TOKEN \(or \$OUR_GITLAB_TOKEN_FILE\) is not set/,
    );
  });
});
