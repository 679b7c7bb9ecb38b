// `pipewarden replay` over a generated NDJSON export: hits, bad lines reported and skipped,
// overrides that change a threshold, and the same output on every run.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/load.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { formatSummary, loadReplayConfig, replay } from '../../src/replay.ts';

const T0 = Date.parse('2024-06-01T09:00:00Z');

function login(
  i: number,
  kind: 'failure' | 'success',
  user: string,
  ip: string,
  atMs: number,
): PipewardenEvent {
  const at = new Date(atMs).toISOString();
  return {
    '@timestamp': at,
    event: {
      id: `ev-${i}`,
      kind: 'event',
      category: ['authentication'],
      type: ['start'],
      action: 'login',
      outcome: kind,
      dataset: 'jenkins.audit',
      provider: 'jenkins',
      ingested: at,
    },
    user: { name: user },
    source: { ip },
    pipewarden: { kind: `login.${kind}`, source: 'jenkins' },
  };
}

function sink() {
  let text = '';
  return {
    write: (s: string) => {
      text += s;
      return true;
    },
    get text() {
      return text;
    },
  };
}

function exportFile(): string {
  const lines: string[] = [];
  let i = 0;
  // 6 failures for alice (threshold 10 by default: no hit; with 5: a hit), 5 users sprayed from one IP.
  for (let k = 0; k < 6; k++)
    lines.push(JSON.stringify(login(i++, 'failure', 'alice', '198.51.100.1', T0 + k * 30_000)));
  lines.push('{"this is": not json');
  lines.push('');
  lines.push(
    JSON.stringify({ '@timestamp': 'yesterday', event: { id: 'x' }, pipewarden: { kind: 'other' } }),
  );
  for (const u of ['u1', 'u2', 'u3', 'u4', 'u5'])
    lines.push(JSON.stringify(login(i++, 'failure', u, '203.0.113.5', T0 + 600_000 + i * 1_000)));
  const file = join(mkdtempSync(join(tmpdir(), 'pw-replay-')), 'events.ndjson');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('replay', () => {
  it('prints hits as NDJSON, reports bad lines with their numbers, and summarises', async () => {
    const file = exportFile();
    const out = sink();
    const err = sink();
    const summary = await replay({ config: loadReplayConfig(undefined, [], {}), input: { file }, out, err });
    const hits = out.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(hits.map((h) => h.context.rule)).toEqual(['password-spraying']);
    expect(summary).toMatchObject({ events: 11, badLines: 2, hits: 1, byDetector: { 'failed-logins': 1 } });
    expect(err.text).toContain(`${file}:7: skipped: not JSON`);
    expect(err.text).toContain(`${file}:9: skipped: missing or invalid @timestamp`);
    expect(err.text).not.toContain('\r'); // not a TTY: no progress bar
    expect(formatSummary(summary)).toMatch(
      /11 events, 2 bad lines skipped, 1 hits .*\n {2}failed-logins\/password-spraying: 1/,
    );
  });

  it('backtests a threshold given with --set, and is deterministic', async () => {
    const file = exportFile();
    const config = loadReplayConfig(undefined, ['detectors.failed-logins.bruteForce.threshold=5'], {});
    const runs = await Promise.all(
      [1, 2].map(async () => {
        const out = sink();
        await replay({ config, input: { file }, out, err: sink() });
        return out.text;
      }),
    );
    expect(runs[0]).toBe(runs[1]);
    expect(
      runs[0]!
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).context.rule),
    ).toEqual(['brute-force', 'password-spraying']);
  });

  it('prints a table, and a progress bar only when asked (a TTY)', async () => {
    const out = sink();
    const err = sink();
    await replay({
      config: loadReplayConfig(undefined, [], {}),
      input: { file: exportFile() },
      out,
      err,
      format: 'table',
      progress: true,
    });
    expect(out.text.split('\n')[0]).toMatch(/^time +detector +rule +severity +key +summary$/);
    expect(out.text).toContain('password-spraying');
    expect(err.text).toContain('\r[');
  });

  it('refuses a bad --set with the path, through the config schema', () => {
    expect(() =>
      loadReplayConfig(undefined, ['detectors.failed-logins.bruteForce.threshold=lots'], {}),
    ).toThrow(ConfigError);
    expect(() => loadReplayConfig(undefined, ['no-equals-sign'], {})).toThrow(/expected path.to.key=value/);
  });

  it('carries every contributing event id in a threshold hit (the five failures of a --set threshold 5)', async () => {
    const config = loadReplayConfig(undefined, ['detectors.failed-logins.bruteForce.threshold=5'], {});
    const out = sink();
    await replay({ config, input: { file: exportFile() }, out, err: sink() });
    const brute = out.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((h) => h.context.rule === 'brute-force');
    expect(brute.event_ids).toEqual(['ev-0', 'ev-1', 'ev-2', 'ev-3', 'ev-4']);
    expect(brute.event_total).toBeUndefined();
  });

  it('runs telemetry-loss: a watched source gone silent is reported at its scheduled check', async () => {
    const lines = [0, 10, 20].map((m) =>
      JSON.stringify(login(100 + m, 'failure', 'bob', '192.0.2.9', T0 + m * 60_000)),
    );
    const file = join(mkdtempSync(join(tmpdir(), 'pw-replay-')), 'silence.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const config = loadReplayConfig(
      undefined,
      ['detectors.telemetry-loss.silence.sources={"jenkins":30}'],
      {},
    );
    const run = async (until?: string) => {
      const out = sink();
      const summary = await replay({
        config,
        input: { file },
        out,
        err: sink(),
        ...(until ? { until } : {}),
      });
      return {
        summary,
        hits: out.text
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      };
    };
    // Up to the last event the source was never silent for 30 min.
    expect((await run()).hits).toEqual([]);
    const { summary, hits } = await run(new Date(T0 + 120 * 60_000).toISOString());
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({
      detector: 'telemetry-loss',
      key: 'jenkins',
      '@timestamp': new Date(T0 + 55 * 60_000).toISOString(), // first 5-minute check after 20 + 30 min
      event_ids: ['ev-120'],
      context: { rule: 'silence', silent_minutes: 35, max_minutes: 30 },
    });
    expect(summary.byRule).toEqual({ 'telemetry-loss/silence': 1 });
  });
});
