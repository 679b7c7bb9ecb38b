// `pipewarden silence add|list|expire` as a user runs it, on an embedded store: creator, comment and expiry
// are kept, the list shows matchers as typed, expire ends one, and bad input exits 2 naming the problem.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Silences } from '../../src/alerting/silences.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

describe('silence CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-silence-cli-'));
  const file = join(dir, 'pipewarden.yaml');
  writeFileSync(file, `mode: embedded\nembedded:\n  dataDir: ${join(dir, 'data')}\nlog:\n  level: silent\n`);
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, 'silence', ...args, '--config', file], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, USER: 'ops-ana' },
      timeout: 60_000,
    });

  it('adds, lists and expires silences', { timeout: 120_000 }, () => {
    const add = run(
      'add',
      '--match',
      'repository~octo-org/*',
      '--match',
      'actor=~deploy-(bot|robot)',
      '--duration',
      '2h',
      '--comment',
      'release train',
    );
    expect(add.stderr).toMatch(
      /^Silenced repository~octo-org\/\* actor=~deploy-\(bot\|robot\) from .* until /,
    );
    expect(add.status).toBe(0);
    const id = add.stdout.trim();
    expect(id).toMatch(/^sil_[0-9a-f]{16}$/);
    const second = run('add', '--match', 'detector=failed-logins', '--comment', 'pen test', '--by', 'bob');
    expect(second.status).toBe(0);

    const list = run('list');
    expect(list.status).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+MATCHERS\s+STARTS\s+ENDS\s+STATE\s+BY\s+COMMENT$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/detector=failed-logins .* active\s+bob\s+pen test$/);
    expect(lines[2]).toMatch(
      /repository~octo-org\/\* actor=~deploy-\(bot\|robot\) .* active\s+cli:ops-ana\s+release train$/,
    );

    const json = JSON.parse(run('list', '--json').stdout) as Array<{
      id: string;
      endsAt: string;
      startsAt: string;
    }>;
    const mine = json.find((s) => s.id === id)!;
    expect(Date.parse(mine.endsAt) - Date.parse(mine.startsAt)).toBe(2 * 3_600_000);

    const expire = run('expire', '--id', id);
    expect(expire.status).toBe(0);
    expect(expire.stderr).toMatch(/Expired silence sil_/);
    expect(run('list').stdout.trim().split('\n')).toHaveLength(2);
    const all = run('list', '--all').stdout;
    expect(all).toMatch(new RegExp(`${id} .*expired by cli:ops-ana`));
    expect(run('expire', '--id', 'sil_0000000000000000').stderr).toMatch(/no silence with id 'sil_0+'/);
  });

  it('refuses bad matchers, a missing comment and a silence of everything, naming the problem', {
    timeout: 120_000,
  }, () => {
    const unsafe = run('add', '--match', 'actor=~(a+)+$', '--comment', 'x');
    expect(unsafe.status).toBe(2);
    expect(unsafe.stderr).toMatch(/actor=~\(a\+\)\+\$: the regex may take exponential time/);
    const unknown = run('add', '--match', 'team=platform', '--comment', 'x');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown field 'team'/);
    const noComment = run('add', '--match', 'actor=x');
    expect(noComment.status).toBe(2);
    expect(noComment.stderr).toMatch(/needs --comment/);
    const everything = run('add', '--match', 'actor!=nobody', '--comment', 'x');
    expect(everything.status).toBe(2);
    expect(everything.stderr).toMatch(/would silence every hit/);
    const asked = run(
      'add',
      '--match',
      'actor!=nobody',
      '--comment',
      'maintenance',
      '--match-all',
      '--ends',
      '30m',
    );
    expect(asked.status).toBe(0);
    const badDuration = run('add', '--match', 'actor=x', '--comment', 'x', '--duration', 'soon');
    expect(badDuration.status).toBe(2);
    expect(badDuration.stderr).toMatch(/--duration must be a duration/);
  });

  it('creates silences the alert role applies', { timeout: 120_000 }, async () => {
    // the match-all silence of the test before would match too: end every silence first
    const ids = (JSON.parse(run('list', '--json').stdout) as Array<{ id: string }>).map((x) => x.id);
    for (const id of ids) expect(run('expire', '--id', id).status).toBe(0);
    const add = run('add', '--match', 'key=~10\\.0\\.0\\.\\d+', '--comment', 'scanner', '--duration', '1h');
    expect(add.status).toBe(0);
    const store = new SqliteStore({ path: join(dir, 'data', 'store.sqlite') });
    await store.init();
    try {
      const hit = { id: 'h', key: '10.0.0.17', detector: 'd', severity: 'high', source: 's', context: {} };
      const s = await new Silences(store).matching(hit as unknown as Hit);
      expect(s?.id).toBe(add.stdout.trim());
    } finally {
      await store.close();
    }
  });
});
