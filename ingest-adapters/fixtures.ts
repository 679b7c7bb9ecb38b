// The one loader of the adapters' sample fixtures (ingest-adapters/<id>/fixtures/*.json): real payloads
// copied from the shared corpus with their provenance, read by adapter tests, the compliance and
// all-samples tests, detector cases and benchmarks.
import { readdirSync, readFileSync } from 'node:fs';

export interface Sample {
  file: string; // the fixture's file name
  source: string; // the corpus folder it was copied from
  event_type: string;
  headers: Record<string, string>;
  body: unknown;
  provenance: string;
}

/** The fixtures folder of an adapter. */
export function fixtureDir(adapter: string): URL {
  return new URL(`./${adapter}/fixtures/`, import.meta.url);
}

/** The sample fixture files of a folder (default: an adapter's), sorted. */
export function listSamples(adapter: string, dir: URL = fixtureDir(adapter)): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

export function loadSample(adapter: string, file: string, dir: URL = fixtureDir(adapter)): Sample {
  return { file, ...JSON.parse(readFileSync(new URL(file, dir), 'utf8')) };
}

/** Every sample of a folder (default: an adapter's), in file order. */
export function loadSamples(adapter: string, dir: URL = fixtureDir(adapter)): Sample[] {
  return listSamples(adapter, dir).map((f) => loadSample(adapter, f, dir));
}

/** The exact bytes a source sends for a sample (compact JSON in file key order). */
export function rawBody(sample: Pick<Sample, 'body'>): string {
  return typeof sample.body === 'string' ? sample.body : JSON.stringify(sample.body);
}

export function lowerHeaders(h: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}
