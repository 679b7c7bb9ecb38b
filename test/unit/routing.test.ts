// The routing tree: cases as data (hit → receivers), the linear glob, config errors with their paths,
// the implicit receivers of a config without `route`, and `pipewarden alert routes --test`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { globMatch, Router } from '../../src/alerting/routing.ts';
import { createSinks, implicitReceivers } from '../../src/alerting/sinks/index.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { parseConfig } from '../../src/config/load.ts';

const CASES = JSON.parse(
  readFileSync(new URL('../fixtures/routing/cases.json', import.meta.url), 'utf8'),
) as {
  config: Record<string, unknown>;
  cases: Array<{ name: string; hit: Partial<Hit>; receivers: string[] }>;
};
const ENV = { PIPEWARDEN_SLACK_TOKEN: 'xoxb-test' };

function hitOf(partial: Partial<Hit>): Hit {
  return {
    id: 'h1',
    '@timestamp': '2026-01-01T00:00:00Z',
    detected_at: '2026-01-01T00:00:00Z',
    detector: 'failed-logins',
    title: 't',
    severity: 'low',
    summary: 's',
    description: 'd',
    runbook: 'r',
    key: 'k',
    event_ids: [],
    source: 'github',
    context: {},
    ...partial,
  };
}

describe('routing', () => {
  const config = parseConfig({ alerting: CASES.config }, ENV);
  const router = new Router(config.alerting.route, implicitReceivers(config.alerting));
  for (const c of CASES.cases) {
    it(c.name, () => {
      expect(router.route(hitOf(c.hit)).receivers.sort()).toEqual([...c.receivers].sort());
    });
  }

  it('creates one sink per receiver, named by it, after the implicit ones', () => {
    const sinks = createSinks(config.alerting);
    expect(sinks.map((s) => [s.name, s.type])).toEqual([
      ['slack', 'slack'],
      ['sec-oncall', 'slack'],
      ['sec-low', 'slack'],
      ['soc-mail', 'email'],
      ['platform-mail', 'email'],
    ]);
    // each renders with its own settings
    const h = hitOf({});
    expect((sinks[1]!.render(h) as { channel: string }).channel).toBe('#sec-oncall');
    expect((sinks[2]!.render(h) as { channel: string }).channel).toBe('#sec-low');
  });

  it('without a route, every alerting.<sink> is a receiver of the default route (as before)', () => {
    const legacy = parseConfig({ alerting: { slack: { enabled: true, channel: '#a' } } }, ENV);
    const r = new Router(legacy.alerting.route, implicitReceivers(legacy.alerting));
    expect(r.route(hitOf({ severity: 'critical' }))).toEqual({ receivers: ['slack'], routes: ['route'] });
  });

  it('names the path of a route that names an unknown receiver', () => {
    expect(() =>
      parseConfig(
        {
          alerting: {
            receivers: { a: { slack: { channel: '#a' } } },
            route: { routes: [{ receivers: ['a'] }, { routes: [{ receivers: ['a', 'nope'] }] }] },
          },
        },
        ENV,
      ),
    ).toThrow(
      /alerting\.route\.routes\.1\.routes\.0\.receivers\.1: unknown receiver 'nope'; receivers are a/,
    );
  });

  it('refuses a receiver that is not exactly one sink, and a name taken by an implicit receiver', () => {
    expect(() =>
      parseConfig({ alerting: { receivers: { two: { slack: { channel: '#a' }, email: {} } } } }, ENV),
    ).toThrow(/alerting\.receivers\.two: a receiver is exactly one sink .*found slack, email/);
    expect(() => parseConfig({ alerting: { receivers: { none: {} } } }, ENV)).toThrow(/found none/);
    expect(() =>
      parseConfig(
        {
          alerting: {
            slack: { enabled: true, channel: '#a' },
            receivers: { slack: { slack: { channel: '#b' } } },
          },
        },
        ENV,
      ),
    ).toThrow(/alerting\.receivers\.slack: 'slack' is already the receiver of alerting\.slack/);
    // a receiver's sink is checked by its own schema, with the path under the receiver
    expect(() => parseConfig({ alerting: { receivers: { x: { slack: {} } } } }, ENV)).toThrow(
      /alerting\.receivers\.x\.slack\.channel: required when slack is enabled/,
    );
    expect(() => parseConfig({ alerting: { route: { group_interval: 'soon' } } }, ENV)).toThrow(
      /alerting\.route\.group_interval: must be a duration/,
    );
    expect(() =>
      parseConfig({ alerting: { route: { routes: [{ match: { colour: 'red' } }] } } }, ENV),
    ).toThrow(/alerting\.route\.routes\.0\.match\.colour: unknown key/);
  });

  it('matches globs in linear time, case-insensitively', () => {
    expect(globMatch('acme/*', 'ACME/web')).toBe(true);
    expect(globMatch('acme/*', 'acmex/web')).toBe(false);
    expect(globMatch('*-prod-?', 'db-prod-1')).toBe(true);
    expect(globMatch('*-prod-?', 'db-prod-12')).toBe(false);
    expect(globMatch('a*b*c', 'aXbYc')).toBe(true);
    expect(globMatch('a*b*c', 'aXbY')).toBe(false);
    expect(globMatch('', '')).toBe(true);
    expect(globMatch('*', '')).toBe(true);
    // the shape that makes a backtracking regex exponential: answered at once (no timing assertion; the
    // loop has one backtrack point, so this is at most pattern × text steps)
    expect(globMatch(`${'*a'.repeat(30)}b`, 'a'.repeat(5000))).toBe(false);
  });

  it('pipewarden alert routes --test prints the receivers and the routes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-routes-'));
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ alerting: CASES.config }));
    writeFileSync(
      join(dir, 'hit.json'),
      JSON.stringify({ detector: 'secrets-in-build-logs', severity: 'high' }),
    );
    const cli = new URL('../../src/cli.ts', import.meta.url).pathname;
    const run = (args: string[]) =>
      spawnSync(process.execPath, [cli, 'alert', 'routes', ...args], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ...ENV },
        timeout: 30_000,
      });
    const r = run(['--test', join(dir, 'hit.json'), '--config', join(dir, 'c.json')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('sec-oncall (slack)\nsoc-mail (email)\nvia route.routes.0, route.routes.1\n');
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ severity: 'urgent' }));
    const bad = run(['--test', join(dir, 'bad.json'), '--config', join(dir, 'c.json')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/is not a hit: detector: .*severity: /);
  });
});
