// The sink registry: every sink file (or folder) is registered once under its own name, and everything
// that lists sinks derives from it: the config's `alerting` keys, createSinks, the README's sink table.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { consoleUrlOf, createSinks, sinks } from '../../src/alerting/sinks/index.ts';
import { parseConfig } from '../../src/config/load.ts';

const dir = new URL('../../src/alerting/sinks/', import.meta.url);
const REGISTRY_FILES = new Set(['index.ts']);

/** A sink is `<id>.ts` beside the registry, or a folder `<id>/` with an index.ts. */
function sinkUnits(): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = new URL(name, dir);
    if (statSync(path).isDirectory()) return existsSync(new URL(`${name}/index.ts`, dir)) ? [name] : [];
    return name.endsWith('.ts') && !REGISTRY_FILES.has(name) ? [name.slice(0, -3)] : [];
  });
}

/** The README's sink table, as the registry says it must read (between the sinks-table markers). */
function sinkTable(): string {
  const rows = sinks.map(
    (d) =>
      `| ${d.title} | \`alerting.${d.id}\` | ${d.summary} | ${d.secretEnvs.map((e) => `\`${e}\``).join(', ')} |`,
  );
  return ['| sink | config | what it sends | secrets from |', '|---|---|---|---|', ...rows].join('\n');
}

describe('sink registry', () => {
  it('lists every sink file or folder exactly once, with its name as id', () => {
    expect(sinks.map((d) => d.id).sort()).toEqual(sinkUnits().sort());
    expect(new Set(sinks.map((d) => d.id)).size).toBe(sinks.length);
    for (const d of sinks) expect(d.id, 'kebab-case').toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
  });

  it('gives every sink a key under alerting, disabled by default, with its routes checked', () => {
    const config = parseConfig({}, {});
    for (const d of sinks) {
      const section = (
        config.alerting as unknown as Record<string, { enabled: boolean; detectors: string[] }>
      )[d.id];
      expect(section?.enabled, d.id).toBe(false);
      expect(section?.detectors, d.id).toEqual([]);
      // an unknown detector in a route is a config error naming the path, for every sink alike
      expect(() => parseConfig({ alerting: { [d.id]: { detectors: ['no-such-detector'] } } }, {})).toThrow(
        new RegExp(`alerting\\.${d.id}\\.detectors\\.0: unknown detector 'no-such-detector'`),
      );
    }
    expect(() => parseConfig({ alerting: { carrier_pigeon: { enabled: true } } }, {})).toThrow(
      /alerting\.carrier_pigeon: unknown key/,
    );
  });

  it('creates no sink when none is enabled, and the enabled ones in registry order', () => {
    expect(createSinks(parseConfig({}, {}).alerting)).toEqual([]);
    const config = parseConfig(
      {
        alerting: {
          email: { enabled: true, host: 'localhost', from: 'pw@example.org', to: ['soc@example.org'] },
          slack: { enabled: true, channel: '#alerts', consoleUrl: 'https://pw.example.org/' },
        },
      },
      { PIPEWARDEN_SLACK_TOKEN: 'xoxb-test' },
    );
    const created = createSinks(config.alerting);
    expect(created.map((s) => s.name)).toEqual(['slack', 'email']);
    expect(consoleUrlOf(config.alerting)).toBe('https://pw.example.org/');
    return Promise.allSettled(created.map((s) => s.close?.()));
  });

  it('is what the README sink table lists (the table is derived from the registry)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const m = /<!-- sinks-table -->\n([\s\S]*?)\n<!-- \/sinks-table -->/.exec(readme);
    expect(m, 'README has <!-- sinks-table --> ... <!-- /sinks-table --> markers').not.toBeNull();
    expect(m![1], `README sink table; replace it with:\n${sinkTable()}\n`).toBe(sinkTable());
  });
});
