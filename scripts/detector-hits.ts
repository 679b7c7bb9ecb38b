// False-positive check: every event of every adapter fixture (ingest-adapters/*/fixtures/*.json) through
// every registered detector with its default config, one engine per fixture (so stateful rules never add
// up events from unrelated files). Prints hits per detector and rule, and which fixture made each.
// Run: node scripts/detector-hits.ts [--json]
import { readdirSync, readFileSync } from 'node:fs';
import { bodyEvents } from '../detectors/fixtures.ts';
import { detectors } from '../detectors/index.ts';
import { adapters } from '../ingest-adapters/index.ts';
import { DetectionEngine } from '../src/detect/engine.ts';
import type { PipewardenEvent } from '../src/event.ts';

export interface FixtureHit {
  detector: string;
  rule: string;
  fixture: string;
  summary: string;
}

/** Every fixture's events (those an adapter accepts on its own; HEC and line fixtures are wrapped as the routes do). */
export function fixtureEvents(): Array<{ fixture: string; events: PipewardenEvent[] }> {
  const out: Array<{ fixture: string; events: PipewardenEvent[] }> = [];
  for (const a of adapters) {
    const dir = new URL(`../ingest-adapters/${a.id}/fixtures/`, import.meta.url);
    for (const f of readdirSync(dir)
      .filter((x) => x.endsWith('.json'))
      .sort()) {
      const s = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as {
        body: unknown;
        headers?: Record<string, string>;
      };
      // The GitHub audit HEC endpoint takes envelopes: wrap a bare entry as GitHub's Splunk stream does.
      const body = a.id === 'github-audit' && !Array.isArray(s.body) ? { event: s.body } : s.body;
      try {
        out.push({ fixture: `${a.id}/${f}`, events: bodyEvents(a.id, body, s.headers ?? {}) });
      } catch (err) {
        out.push({ fixture: `${a.id}/${f} (not accepted: ${(err as Error).message})`, events: [] });
      }
    }
  }
  return out;
}

export function fixtureHits(): FixtureHit[] {
  const hits: FixtureHit[] = [];
  for (const { fixture, events } of fixtureEvents()) {
    const engine = new DetectionEngine(
      detectors.map((d) => ({ detector: d, config: d.configSchema.parse({}) })),
    );
    for (const e of events)
      for (const h of engine.evaluate(e, new Date(e['@timestamp'])))
        hits.push({
          detector: h.detector,
          rule: String(h.context.rule ?? 'match'),
          fixture,
          summary: h.summary,
        });
  }
  return hits;
}

if (import.meta.main) {
  const all = fixtureEvents();
  const hits = fixtureHits();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(hits, null, 2));
  } else {
    console.log(
      `${all.length} fixture files, ${all.reduce((n, x) => n + x.events.length, 0)} events, ${hits.length} hits`,
    );
    for (const d of detectors) {
      const mine = hits.filter((h) => h.detector === d.id);
      console.log(`\n${d.id}: ${mine.length}`);
      for (const h of mine) console.log(`  [${h.rule}] ${h.fixture}: ${h.summary}`);
    }
  }
}
