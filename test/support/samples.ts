// Loads the project's own copies of the shared samples and signs them as the source would.
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

export interface Sample {
  file: string;
  source: string;
  event_type: string;
  headers: Record<string, string>;
  body: unknown;
  provenance: string;
}

export function fixtureDir(adapter: string): URL {
  return new URL(`../../ingest-adapters/${adapter}/fixtures/`, import.meta.url);
}

export function loadSample(adapter: string, file: string): Sample {
  return { file, ...JSON.parse(readFileSync(new URL(file, fixtureDir(adapter)), 'utf8')) };
}

export function listSamples(adapter: string): string[] {
  return readdirSync(fixtureDir(adapter))
    .filter((f) => f.endsWith('.json'))
    .sort();
}

/** The exact bytes a source sends for a sample (compact JSON in file key order). */
export function rawBody(sample: Sample): string {
  return typeof sample.body === 'string' ? sample.body : JSON.stringify(sample.body);
}

export function lowerHeaders(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Headers for a GitHub delivery of `raw` signed with `secret` (replacing the sample's signatures). */
export function signGithub(
  sample: Sample,
  raw: string,
  secret: string,
  delivery?: string,
): Record<string, string> {
  const h = lowerHeaders(sample.headers);
  h['x-hub-signature-256'] = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
  delete h['x-hub-signature'];
  if (delivery) h['x-github-delivery'] = delivery;
  return h;
}
