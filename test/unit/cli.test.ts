// The command line as a user runs it: bad config exits non-zero listing every error; serve survives
// SIGTERM gracefully and nothing accepted is lost across a restart; token create prints a usable token.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { loadSample, rawBody, signGithub } from '../support/samples.ts';

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;
const SECRET = 'cli-test-secret-01';

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    timeout: 30_000,
  });
}

/** Starts `serve` and resolves with its URL once the "running" log line appears. */
async function serve(configFile: string): Promise<{ child: ChildProcess; url: string; logs: string[] }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile, '--port', '0'], {
    env: { PATH: process.env.PATH, PIPEWARDEN_GITHUB_WEBHOOK_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line);
      const entry = JSON.parse(line);
      if (entry.msg === 'pipewarden is running.') resolve(entry.address);
    });
    child.once('exit', (code) => reject(new Error(`serve exited early with ${code}: ${logs.join('\n')}`)));
  });
  return { child, url, logs };
}

describe('pipewarden CLI', () => {
  it('exits 78 on a bad config, listing every problem with its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'mode: cluster\nserver:\n  port: eighty\n  colour: blue\nsources:\n  github:\n    enabled: true\n',
    );
    const r = run(['serve', '--config', file]);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain(`invalid configuration in ${file}`);
    expect(r.stderr).toMatch(/- mode: /);
    expect(r.stderr).toMatch(/- server\.port: /);
    expect(r.stderr).toMatch(/- server\.colour: unknown key/);
    expect(r.stderr).toMatch(/- sources\.github\.secretEnv: .*PIPEWARDEN_GITHUB_WEBHOOK_SECRET/);
  });

  it('refuses to send a test alert when no sink is enabled, saying which settings enable one', () => {
    const r = run(['alert', 'test']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no alert sink is enabled \(alerting\.slack \/ alerting\.email/);
  });

  it('refuses an unknown role and an unknown command with a usage message', () => {
    expect(run(['serve', '--role', 'fly']).stderr).toMatch(/unknown role\(s\) fly/);
    const r = run(['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('serves, stops gracefully on SIGTERM, and keeps every accepted event across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-cli-'));
    const file = join(dir, 'pipewarden.yaml');
    writeFileSync(file, `embedded:\n  dataDir: ${join(dir, 'data')}\nlog:\n  level: info\n`);
    const token = run(['token', 'create', '--name', 'cli-test', '--config', file]);
    expect(token.status).toBe(0);
    const bearer = token.stdout.trim();
    expect(bearer).toMatch(/^pw_[0-9a-f]{16}_/);

    const first = await serve(file);
    const sample = loadSample('github', 'push__default.json');
    // Forty distinct pushes (one signed body resent under new delivery ids is one event: issue 10).
    const rawOf = (i: number) =>
      rawBody({ ...sample, body: { ...(sample.body as object), after: `${i}`.padStart(40, 'a') } });
    const sent = 40;
    const answers = await Promise.all(
      Array.from({ length: sent }, (_, i) =>
        fetch(`${first.url}/ingest/github`, {
          method: 'POST',
          body: rawOf(i),
          headers: signGithub(sample, rawOf(i), SECRET, `cli-${i}`),
        }).then((r) => r.status),
      ),
    );
    expect(answers.every((s) => s === 202)).toBe(true);
    // SIGTERM right away: whatever the consumers had not indexed yet must survive on the bus.
    const exited = new Promise<number | null>((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(first.logs.some((l) => l.includes('pipewarden stopped.'))).toBe(true);

    const second = await serve(file);
    try {
      let total = 0;
      for (let i = 0; i < 100 && total < sent; i++) {
        const res = await fetch(`${second.url}/api/events?kind=code.push`, {
          headers: { authorization: `Bearer ${bearer}` },
        });
        total = ((await res.json()) as { total: number }).total;
        if (total < sent) await new Promise((r) => setTimeout(r, 100));
      }
      expect(total).toBe(sent);
      // Our own logs never carry the token or the webhook signature.
      const all = [...first.logs, ...second.logs].join('\n');
      expect(all).not.toContain(bearer);
      expect(all).not.toContain(SECRET);
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((resolve) => second.child.once('exit', resolve));
    }
  });
});
