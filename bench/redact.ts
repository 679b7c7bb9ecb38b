// Redaction of the raw payload kept with each event: the scan-first redactPayload against the plain deep
// copy it replaced (the baseline, kept below as it was), on every vendor fixture in the repository, in the
// same run, interleaved rounds. Usage: node bench/redact.ts
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { redactPayload } from '../src/event.ts';
import { median, writeSection } from './report.ts';

const SECRET_KEY =
  /(secret|token|password|passwd|authorization|api[_-]?key|private[_-]?key|credential|signature)/i;
function deepCopyRedact(value: unknown, depth = 0): unknown {
  if (depth > 32) return '[depth limit]';
  if (Array.isArray(value)) return value.map((v) => deepCopyRedact(v, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        SECRET_KEY.test(k) && typeof v === 'string' && v.length > 0
          ? '[REDACTED]'
          : deepCopyRedact(v, depth + 1),
      ]),
    );
  }
  return value;
}

function fixtureBodies(): unknown[] {
  const root = new URL('../ingest-adapters/', import.meta.url).pathname;
  const out: unknown[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.includes('/fixtures/') && name.endsWith('.json')) {
        const f = JSON.parse(readFileSync(path, 'utf8')) as { body?: unknown };
        if (f.body && typeof f.body === 'object') out.push(f.body);
      }
    }
  };
  walk(root);
  return out;
}

const bodies = fixtureBodies();
const bytes = bodies.reduce<number>((n, b) => n + JSON.stringify(b).length, 0);
const ROUNDS = 7;
const MIN_MS = 300;

function measure(fn: (v: unknown) => unknown): number {
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < MIN_MS) {
    for (const b of bodies) fn(b);
    n += bodies.length;
    elapsed = performance.now() - start;
  }
  return (elapsed * 1000) / n; // µs per payload
}

for (let i = 0; i < 3; i++) {
  measure(deepCopyRedact);
  measure(redactPayload);
}
const base: number[] = [];
const ours: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  base.push(measure(deepCopyRedact));
  ours.push(measure(redactPayload));
}
const copied = bodies.filter((b) => redactPayload(b) !== b).length;
const mb = median(base);
const mo = median(ours);
const body = `\`node bench/redact.ts\` (${new Date().toISOString().slice(0, 10)}, Node ${process.version}; 2 shared cores).

Method: every JSON fixture body under \`ingest-adapters/*/fixtures\` (${bodies.length} vendor payloads, ${(bytes / 1024).toFixed(0)} KiB in all), redacted in turn; µs per payload, median of ${ROUNDS} interleaved rounds of at least ${MIN_MS} ms each, after a warm-up. Baseline: the plain deep copy \`redactPayload\` was before (every object and array copied). Ours: scan first, copy only a payload that holds a credential-looking key with a string value (${copied} of ${bodies.length} fixtures needed a copy).

| | µs per payload (median) | spread (min–max) |
|---|---|---|
| baseline: deep copy | ${mb.toFixed(2)} | ${Math.min(...base).toFixed(2)}–${Math.max(...base).toFixed(2)} |
| scan-first redactPayload | ${mo.toFixed(2)} | ${Math.min(...ours).toFixed(2)}–${Math.max(...ours).toFixed(2)} |

Ratio baseline/ours: ${(mb / mo).toFixed(2)}×.
`;
process.stdout.write(body);
writeSection('Raw payload redaction', body);
