import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.ts';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('starts in embedded mode on loopback with no file at all, and no source enabled without a secret', () => {
    const c = loadConfig(undefined, {});
    expect(c.mode).toBe('embedded');
    expect(c.server.host).toBe('127.0.0.1');
    expect(c.sources.github.enabled).toBe(false);
    expect(c.alerting.slack.enabled).toBe(false);
    expect(c.detectors['pipeline-weakening'].enabled).toBe(true);
  });

  it('enables a source when its secret is in the environment, and never prints the secret', () => {
    const c = parseConfig({}, { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: 's3cr3t-value-0123456' });
    expect(c.sources.github.enabled).toBe(true);
    expect(c.sources.github.secret?.reveal()).toBe('s3cr3t-value-0123456');
    expect(JSON.stringify(c)).not.toContain('s3cr3t-value-0123456');
  });

  it('reads a secret from VAR_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-cfg-'));
    writeFileSync(join(dir, 'gh'), 'from-file-0123456789\n');
    const c = parseConfig({ sources: { github: { secretEnv: 'MY_GH' } } }, { MY_GH_FILE: join(dir, 'gh') });
    expect(c.sources.github.secret?.reveal()).toBe('from-file-0123456789');
  });

  it('names consumer groups after kafka.groupPrefix, and refuses a prefix Kafka tooling would choke on', async () => {
    const { consumerGroup } = await import('../../src/roles/types.ts');
    const distributed = (groupPrefix?: string) =>
      parseConfig(
        {
          mode: 'distributed',
          kafka: { brokers: ['k:9092'], ...(groupPrefix === undefined ? {} : { groupPrefix }) },
          elasticsearch: { node: 'http://es:9200' },
        },
        {},
      );
    expect(consumerGroup(distributed(), 'index')).toBe('pipewarden-index');
    expect(consumerGroup(distributed('staging'), 'detect')).toBe('staging-detect');
    expect(consumerGroup(parseConfig({}, {}), 'alert')).toBe('pipewarden-alert');
    expect(problemsOf(() => distributed('a b'))).toEqual([
      expect.stringMatching(/^kafka\.groupPrefix: letters, digits/),
    ]);
  });

  it('lists every error at once, each with its path', () => {
    const problems = problemsOf(() =>
      parseConfig(
        {
          mode: 'cluster',
          server: { port: 'eighty', colour: 'blue' },
          sources: { github: { enabled: true }, jira: {} },
          alerting: { slack: { enabled: true } },
          detectors: { 'pipeline-weakening': { ignoreActors: 'bot' } },
        },
        {},
      ),
    );
    const text = problems.join('\n');
    expect(text).toMatch(/^mode: /m);
    expect(text).toMatch(/^server\.port: /m);
    expect(text).toMatch(/^server\.colour: unknown key/m);
    expect(text).toMatch(/^sources\.jira: unknown key/m);
    expect(text).toMatch(/^sources\.github\.secretEnv: .*PIPEWARDEN_GITHUB_WEBHOOK_SECRET/m);
    expect(text).toMatch(/PIPEWARDEN_SLACK_TOKEN/);
    expect(text).toMatch(/^detectors\.pipeline-weakening\.ignoreActors: /m);
    expect(problems.length).toBeGreaterThanOrEqual(7);
  });

  it('refuses a secret written into the file instead of an environment variable name', () => {
    const problems = problemsOf(() =>
      parseConfig({ sources: { github: { secretEnv: 'hunter2 is my password' } } }, {}),
    );
    expect(problems.join('\n')).toMatch(
      /sources\.github\.secretEnv: must be the NAME of an environment variable/,
    );
  });

  it('refuses additional secrets that are not variable names or are not set, naming each by index', () => {
    const problems = problemsOf(() =>
      parseConfig(
        { sources: { github: { additionalSecretEnvs: ['ORG_A_SECRET', 'ORG_B_SECRET', 's3cr3t value'] } } },
        { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: 'long-enough-secret-x', ORG_A_SECRET: 'org-a-secret-0123456' },
      ),
    ).join('\n');
    expect(problems).toMatch(
      /sources\.github\.additionalSecretEnvs\.2: must be the NAME of an environment variable/,
    );
    expect(problems).not.toContain('s3cr3t');
    // Names are checked first: with a bad name in the list, the unset one is reported once that is fixed.
    const unset = problemsOf(() =>
      parseConfig(
        { sources: { github: { additionalSecretEnvs: ['ORG_A_SECRET', 'ORG_B_SECRET'] } } },
        { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: 'long-enough-secret-x', ORG_A_SECRET: 'org-a-secret-0123456' },
      ),
    ).join('\n');
    expect(unset).toMatch(
      /sources\.github\.additionalSecretEnvs\.1: \$ORG_B_SECRET \(or \$ORG_B_SECRET_FILE\) is not set/,
    );
    const ok = parseConfig(
      { sources: { github: { additionalSecretEnvs: ['ORG_A_SECRET'] } } },
      { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: 'long-enough-secret-x', ORG_A_SECRET: 'org-a-secret-0123456' },
    );
    expect(ok.sources.github.additionalSecrets?.map((x: { reveal(): string }) => x.reveal())).toEqual([
      'org-a-secret-0123456',
    ]);
  });

  it('refuses an alert route naming a detector that does not exist', () => {
    const problems = problemsOf(() =>
      parseConfig(
        {
          alerting: { slack: { enabled: true, channel: '#x', detectors: ['failed-logins', 'faild-logins'] } },
        },
        { PIPEWARDEN_SLACK_TOKEN: 't' },
      ),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^alerting\.slack\.detectors\.1: unknown detector 'faild-logins'/),
    ]);
  });

  it('requires kafka and elasticsearch in distributed mode', () => {
    const problems = problemsOf(() => parseConfig({ mode: 'distributed' }, {}));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^kafka: required/),
        expect.stringMatching(/^elasticsearch: required/),
      ]),
    );
  });

  it('reports a file that is not YAML, or not a mapping, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-cfg-'));
    writeFileSync(join(dir, 'bad.yaml'), 'mode: [unclosed');
    expect(() => loadConfig(join(dir, 'bad.yaml'), {})).toThrow(/bad\.yaml[\s\S]*not valid YAML/);
    writeFileSync(join(dir, 'list.yaml'), '- a\n- b\n');
    expect(() => loadConfig(join(dir, 'list.yaml'), {})).toThrow(/must be a mapping/);
    expect(() => loadConfig(join(dir, 'missing.yaml'), {})).toThrow(/missing\.yaml[\s\S]*cannot read/);
  });

  it('parses the example configuration shipped with the project', () => {
    const c = loadConfig(new URL('../../pipewarden.example.yaml', import.meta.url).pathname, {
      PIPEWARDEN_GITHUB_WEBHOOK_SECRET: 'long-enough-secret-x',
      PIPEWARDEN_SLACK_TOKEN: 'xoxb-1',
    });
    expect(c.mode).toBe('embedded');
  });
});
