// `pipewarden replay`: runs the detectors over exported events (NDJSON) or over the stored audit trail
// for a time range, so a platform team can backtest a threshold before changing it. Deterministic:
// each event is evaluated with `now` = its own time, by the same engine the detect role runs; the
// engine's clock follows the events, so time-driven rules (absence, scheduled) run at their scheduled
// times in between, as the detect role's clock runs them live.
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse as parseYaml } from 'yaml';
import { detectors as allDetectors } from '../detectors/index.ts';
import type { Hit } from './alerting/types.ts';
import { ConfigError, parseConfig } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { DetectionEngine, type EngineStats } from './detect/engine.ts';
import type { PipewardenEvent } from './event.ts';
import type { Store } from './store/types.ts';

export interface Output {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ReplayInput = { file: string } | { store: Store; from: string; to: string; sliceMs?: number };

export interface ReplayOptions {
  config: Config;
  input: ReplayInput;
  /** Only these detector ids (default: every enabled one). */
  only?: string[];
  format?: 'ndjson' | 'table';
  out: Output;
  err: Output;
  /** Progress bar on `err`; default: only when `err` is a TTY. */
  progress?: boolean;
  /** Time-driven rules: run the clock on to this time after the last event (store input: `to`). */
  until?: string;
}

export interface ReplaySummary {
  events: number;
  badLines: number;
  hits: number;
  byDetector: Record<string, number>;
  byRule: Record<string, number>; // "<detector>/<rule>", `match` for stateless hits
  errors: EngineStats['errors'];
  suppressed: number;
  durationMs: number;
}

/**
 * The root config from a YAML file (or defaults) with `--set path=value` overrides applied before
 * validation, so an override is checked by the same schema as the file. Values are JSON when they
 * parse as JSON (numbers, booleans, arrays), else strings.
 */
export function loadReplayConfig(
  file: string | undefined,
  sets: string[] = [],
  env: Record<string, string | undefined> = process.env,
): Config {
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
    }
    const parsed: unknown = parseYaml(text);
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed))
        throw new ConfigError(file, ['(root): must be a mapping of settings']);
      raw = parsed as Record<string, unknown>;
    }
  }
  const problems: string[] = [];
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) {
      problems.push(`--set ${s}: expected path.to.key=value`);
      continue;
    }
    const path = s.slice(0, eq).split('.');
    if (path.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
      problems.push(`--set ${s}: bad path`);
      continue;
    }
    let value: unknown = s.slice(eq + 1);
    try {
      value = JSON.parse(value as string);
    } catch {
      // a plain string
    }
    let node = raw;
    for (const p of path.slice(0, -1)) {
      const next = node[p];
      if (next === undefined || next === null) node = node[p] = {};
      else if (typeof next === 'object' && !Array.isArray(next)) node = next as Record<string, unknown>;
      else {
        problems.push(`--set ${s}: ${p} is not a mapping`);
        node = {};
      }
    }
    node[path.at(-1)!] = value;
  }
  if (problems.length) throw new ConfigError('--set', problems);
  return parseConfig(raw, env, file ? `${file} with --set` : '--set');
}

export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const { config, out, err } = options;
  const format = options.format ?? 'ndjson';
  const detectorConfigs = config.detectors as Record<string, { enabled: boolean }>;
  const unknown = (options.only ?? []).filter((id) => !allDetectors.some((d) => d.id === id));
  if (unknown.length) throw new Error(`unknown detector(s): ${unknown.join(', ')}`);
  const engine = new DetectionEngine(
    allDetectors
      .filter((d) => !options.only || options.only.includes(d.id))
      .map((detector) => ({ detector, config: detectorConfigs[detector.id] ?? { enabled: false } })),
    // No clock skew clamp needed: `now` is each event's own time. Lateness: generous, exports may be unordered.
    { allowedLatenessMs: 24 * 3_600_000, env: { enabledSources: enabledIds(config.sources) } },
  );
  const summary: ReplaySummary = {
    events: 0,
    badLines: 0,
    hits: 0,
    byDetector: {},
    byRule: {},
    errors: engine.stats.errors,
    suppressed: 0,
    durationMs: 0,
  };
  const bar = new ProgressBar(err, options.progress ?? err.isTTY === true);
  if (format === 'table') out.write(`${TABLE_HEADER}\n`);

  const report = (hits: Hit[]) => {
    for (const hit of hits) {
      summary.hits++;
      summary.byDetector[hit.detector] = (summary.byDetector[hit.detector] ?? 0) + 1;
      const rule = `${hit.detector}/${hit.context.rule ?? 'match'}`;
      summary.byRule[rule] = (summary.byRule[rule] ?? 0) + 1;
      out.write(format === 'table' ? `${tableRow(hit)}\n` : `${JSON.stringify(hit)}\n`);
    }
  };
  // The clock: ticks never go back (an unordered export ticks at the newest time seen so far).
  let clock = Number.NEGATIVE_INFINITY;
  const tick = (ms: number) => {
    if (Number.isNaN(ms) || ms < clock) return;
    clock = ms;
    report(engine.tick(new Date(ms)).hits);
  };
  const onEvent = (event: PipewardenEvent) => {
    summary.events++;
    const now = new Date(event['@timestamp']);
    tick(now.getTime());
    report(engine.evaluate(event, now));
  };

  if ('file' in options.input) {
    const file = options.input.file;
    const size = statSync(file).size;
    let bytes = 0;
    let lineNo = 0;
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      lineNo++;
      bytes += Buffer.byteLength(line) + 1;
      if (line.trim() === '') continue;
      const checked = checkEvent(line);
      if (typeof checked === 'string') {
        summary.badLines++;
        bar.clear();
        err.write(`${file}:${lineNo}: skipped: ${checked}\n`);
      } else onEvent(checked);
      bar.update(bytes / Math.max(size, 1), summary);
    }
  } else {
    const { store, from, to } = options.input;
    const fromMs = Date.parse(from);
    const toMs = Date.parse(to);
    if (Number.isNaN(fromMs) || Number.isNaN(toMs) || fromMs >= toMs)
      throw new Error(`--from and --to must be ISO times with from < to (got ${from} .. ${to})`);
    // The store pages newest first; windows need oldest first: read slice by slice, each reversed.
    const sliceMs = options.input.sliceMs ?? 3_600_000;
    for (let start = fromMs; start < toMs; start += sliceMs) {
      const end = Math.min(start + sliceMs, toMs);
      const slice: PipewardenEvent[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.searchEvents({
          from: new Date(start).toISOString(),
          to: new Date(end).toISOString(),
          size: 500,
          ...(cursor ? { cursor } : {}),
        });
        slice.push(...page.items);
        cursor = page.next;
      } while (cursor);
      slice.reverse();
      // Equal timestamps: keep a stable order (by id) so two runs print the same.
      slice.sort(
        (a, b) => Date.parse(a['@timestamp']) - Date.parse(b['@timestamp']) || cmp(a.event.id, b.event.id),
      );
      for (const e of slice) onEvent(e);
      bar.update((end - fromMs) / (toMs - fromMs), summary);
    }
  }
  const until = options.until ?? ('file' in options.input ? undefined : options.input.to);
  if (until !== undefined) tick(Date.parse(until));
  bar.clear();
  summary.suppressed = engine.stats.suppressed;
  summary.durationMs = Math.round(performance.now() - started);
  return summary;
}

/** The summary for stderr: events, bad lines, hits by detector and rule, duration. */
export function formatSummary(s: ReplaySummary): string {
  const rate = s.durationMs > 0 ? Math.round((s.events / s.durationMs) * 1000) : s.events;
  const lines = [
    `replay: ${s.events} events, ${s.badLines} bad lines skipped, ${s.hits} hits (${s.suppressed} suppressed by dedup) in ${(s.durationMs / 1000).toFixed(2)} s (${rate} events/s)`,
  ];
  for (const [rule, n] of Object.entries(s.byRule).sort()) lines.push(`  ${rule}: ${n}`);
  for (const [d, n] of Object.entries(s.errors)) lines.push(`  ${d}: threw on ${n} events (see log)`);
  return `${lines.join('\n')}\n`;
}

function enabledIds(section: Record<string, unknown>): string[] {
  return Object.entries(section)
    .filter(([, v]) => (v as { enabled?: boolean } | undefined)?.enabled)
    .map(([k]) => k);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An event, or why the line is not one. */
function checkEvent(line: string): PipewardenEvent | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const e = v as Partial<PipewardenEvent>;
  if (typeof e['@timestamp'] !== 'string' || Number.isNaN(Date.parse(e['@timestamp'])))
    return 'missing or invalid @timestamp';
  if (!e.event || typeof e.event !== 'object' || typeof e.event.id !== 'string') return 'missing event.id';
  if (!e.pipewarden || typeof e.pipewarden !== 'object' || typeof e.pipewarden.kind !== 'string')
    return 'missing pipewarden.kind (not a normalised event)';
  return e as PipewardenEvent;
}

const TABLE_HEADER = [
  'time'.padEnd(24),
  'detector'.padEnd(20),
  'rule'.padEnd(22),
  'severity'.padEnd(8),
  'key'.padEnd(20),
  'summary',
].join(' ');

function tableRow(h: Hit): string {
  const cell = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  return [
    cell(h['@timestamp'], 24),
    cell(h.detector, 20),
    cell(String(h.context.rule ?? 'match'), 22),
    cell(h.severity, 8),
    cell(h.key, 20),
    h.summary,
  ].join(' ');
}

/** A one-line bar on stderr, redrawn at most every 100 ms; nothing at all when disabled. */
class ProgressBar {
  readonly #err: Output;
  readonly #on: boolean;
  #last = 0;
  #drawn = false;

  constructor(err: Output, on: boolean) {
    this.#err = err;
    this.#on = on;
  }

  update(fraction: number, s: ReplaySummary): void {
    if (!this.#on) return;
    const t = performance.now();
    if (t - this.#last < 100) return;
    this.#last = t;
    const width = 30;
    const f = Math.min(Math.max(fraction, 0), 1);
    const done = Math.round(f * width);
    this.#err.write(
      `\r[${'#'.repeat(done)}${'-'.repeat(width - done)}] ${(f * 100).toFixed(0).padStart(3)}%  ${s.events} events  ${s.hits} hits`,
    );
    this.#drawn = true;
  }

  clear(): void {
    if (!this.#drawn) return;
    this.#err.write('\r\u001b[2K');
    this.#drawn = false;
  }
}
