// npm run fuzz [-- --count N --seed S --concurrency C --parallel P --routes a,b]: mutated requests against
// every ingest route, each route against an embedded collector of its own in its own process on loopback
// (P routes at a time, so the peak RSS is per route; not in CI). Bodies start from
// each adapter's real fixtures and are mutated (bytes inserted, deleted, replaced; cut; nested deep;
// huge strings; random JSON); headers vary (media types, event names, prototype member names); most
// requests are correctly signed so they reach parsing and normalisation, the rest are not. Prints the
// answers per route (the count of 5xx must be 0) and each collector's peak RSS. Bounded in count and time.
import { fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { adapters } from '../ingest-adapters/index.ts';
import { signers, sourceSecretsEnv } from '../test/support/signers.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '32' },
    parallel: { type: 'string', default: '2' },
    routes: { type: 'string' },
    'max-seconds': { type: 'string', default: '3000' },
  },
});
const COUNT = Number(values.count);
const CONCURRENCY = Number(values.concurrency);
const PARALLEL = Math.max(1, Number(values.parallel));
const SEED = Number(values.seed);
const DEADLINE = Date.now() + Number(values['max-seconds']) * 1000;
const SECRET = 'fuzz-secret-0123456789abcdef';

/** mulberry32: a small seeded PRNG, so a failing run can be repeated with its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
// One generator per route (seeded with the seed and the route's place), so routes run side by side and a
// route's run repeats with its seed whatever else runs.
let rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

function fixtures(id: string): { bodies: string[]; headers: Array<Record<string, string>> } {
  const dir = new URL(`../ingest-adapters/${id}/fixtures/`, import.meta.url);
  const bodies: string[] = [];
  const headers: Array<Record<string, string>> = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const s = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as {
      body: unknown;
      headers?: Record<string, string>;
    };
    let body = typeof s.body === 'string' ? s.body : JSON.stringify(s.body);
    // The HEC route reads Splunk envelopes; CircleCI refuses a happened_at older than 15 minutes.
    if (id === 'github-audit' && !body.startsWith('{"event"')) body = `{"event":${body}}`;
    if (id === 'circleci')
      body = body.replace(/"happened_at":"[^"]*"/, `"happened_at":"${new Date().toISOString()}"`);
    bodies.push(body);
    headers.push(Object.fromEntries(Object.entries(s.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])));
  }
  return { bodies, headers };
}

const NASTY = [
  '',
  '{',
  '}',
  '[',
  ']',
  '"',
  '\\',
  '\u0000',
  '\u202e',
  '\n',
  'null',
  '1e400',
  '-0',
  '__proto__',
  'constructor',
  '\ud800',
  '😀',
  ',',
  ':',
];
const EVENT_HEADERS = [
  'x-github-event',
  'x-gitlab-event',
  'x-event-key',
  'x-nexus-webhook-id',
  'circleci-event-type',
  'ce-type',
];
const EVENT_VALUES = [
  'push',
  'Push Hook',
  'repo:push',
  'toString',
  '__proto__',
  'constructor',
  'deploy_key',
  'team',
  'rm:global:audit',
  'System Hook',
  'workflow_job',
  'x'.repeat(300),
];
const TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-ndjson',
  'application/x-www-form-urlencoded',
  'application/cloudevents+json',
  '',
];

function randomJson(depth = 0): unknown {
  const r = int(depth > 4 ? 4 : 7);
  if (r === 0) return int(1e6) - 5e5;
  if (r === 1) return pick(NASTY);
  if (r === 2) return rand() < 0.5;
  if (r === 3) return null;
  if (r === 4) return Array.from({ length: int(4) }, () => randomJson(depth + 1));
  return Object.fromEntries(
    Array.from({ length: int(5) }, () => [
      pick([...NASTY, 'action', 'id', 'event', 'object_kind', 'user']),
      randomJson(depth + 1),
    ]),
  );
}

function mutate(body: string): string {
  switch (int(10)) {
    case 0:
      return body.slice(0, int(body.length + 1)); // cut
    case 1: {
      const at = int(body.length + 1);
      return body.slice(0, at) + pick(NASTY) + body.slice(at + int(8));
    }
    case 2: {
      const at = int(body.length);
      return body.slice(0, at) + body.slice(at, at + int(200)).repeat(1 + int(5)) + body.slice(at);
    }
    case 3:
      return JSON.stringify(randomJson());
    case 4: {
      const n = 50 + int(20_000); // deep nesting inside a real body
      return body.replace(/^\{/, `{"deep":${'['.repeat(n)}1${']'.repeat(n)},`);
    }
    case 5:
      return body.replace(/"([^"]{1,40})"/, `"${'x'.repeat(int(200_000))}"`); // a huge string field
    case 6: {
      // Replace a value of a real field by a random JSON value.
      try {
        const o = JSON.parse(body) as Record<string, unknown>;
        const keys = Object.keys(o);
        if (keys.length) o[pick(keys)] = randomJson();
        return JSON.stringify(o);
      } catch {
        return body;
      }
    }
    case 7: {
      let s = body;
      for (let i = 0; i < 1 + int(6); i++) {
        const at = int(s.length);
        s = s.slice(0, at) + String.fromCharCode(int(0x3000)) + s.slice(at + 1);
      }
      return s;
    }
    case 8:
      return body
        .split('\n')
        .map((l) => (rand() < 0.3 ? mutate(l) : l))
        .join('\n');
    default:
      return body;
  }
}

interface Tally {
  sent: number;
  byClass: Record<string, number>;
  fivexx: Array<{ status: number; body: string }>;
}

interface RouteResult {
  id: string;
  tally: Tally;
  peak: number;
  seconds: number;
}

/** One route against a collector of its own: `COUNT` requests, then the collector's peak RSS. */
async function fuzzRoute(id: string, place: number): Promise<RouteResult> {
  const adapter = adapters.find((x) => x.id === id)!;
  const child = fork(
    new URL('../test/support/guarded-collector.ts', import.meta.url).pathname,
    [
      JSON.stringify({
        log: { level: 'silent' },
        server: { limits: { maxUnauthenticatedPerClient: 256, maxUnauthenticated: 512 } },
      }),
      JSON.stringify(sourceSecretsEnv(SECRET)),
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const ask = <T>(m: string) =>
    new Promise<T>((resolve) => {
      child.once('message', (x) => resolve(x as T));
      child.send(m);
    });
  const { url } = await new Promise<{ url: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string }));
    child.once('exit', (c) => reject(new Error(`collector for ${id} exited with ${c}`)));
  });
  const base = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const started = Date.now();
  const gen = prng(SEED * 1000 + place);
  const route = adapter.paths?.[0] ?? `/ingest/${id}`;
  const { bodies, headers } = fixtures(id);
  const tally: Tally = { sent: 0, byClass: {}, fivexx: [] };
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < COUNT && Date.now() < DEADLINE) {
      next++;
      rand = gen; // this route's generator for everything drawn until the request is sent
      const i = int(bodies.length);
      const raw = rand() < 0.15 ? bodies[i]! : mutate(bodies[i]!);
      const h: Record<string, string> = { ...headers[i] };
      delete h['content-length'];
      delete h.host;
      if (rand() < 0.3) h['content-type'] = pick(TYPES);
      h['content-type'] ??= 'application/json';
      if (rand() < 0.3) h[pick(EVENT_HEADERS)] = pick(EVENT_VALUES);
      const signed = rand() < 0.8;
      Object.assign(h, signed ? signers[id]!(raw, SECRET, new Date()) : {});
      const payload = Buffer.from(raw);
      const status = await new Promise<number>((resolve) => {
        const req = request(
          {
            host: base.hostname,
            port: base.port,
            path: route,
            method: 'POST',
            agent,
            headers: { ...h, 'content-length': payload.length },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.length < 4 && chunks.push(c));
            res.on('end', () => {
              if ((res.statusCode ?? 0) >= 500 && tally.fivexx.length < 5)
                tally.fivexx.push({
                  status: res.statusCode!,
                  body: Buffer.concat(chunks).toString().slice(0, 300),
                });
              resolve(res.statusCode ?? 0);
            });
          },
        );
        req.on('error', () => resolve(-1)); // cut by the server (e.g. refused before the body): not a 5xx
        req.end(payload);
      });
      tally.sent++;
      const cls = status < 0 ? 'cut' : `${Math.floor(status / 100)}xx`;
      tally.byClass[cls] = (tally.byClass[cls] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, one));
  const { peak } = await ask<{ peak: number }>('rss');
  agent.destroy();
  child.send('stop');
  await new Promise((r) => child.once('exit', r));
  const result = { id, tally, peak, seconds: (Date.now() - started) / 1000 };
  const classes = Object.entries(tally.byClass)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  process.stdout.write(
    `${id.padEnd(20)} ${String(tally.sent).padStart(7)} requests in ${result.seconds.toFixed(0).padStart(4)} s, peak RSS ${(peak / 1048576).toFixed(0).padStart(4)} MB: ${classes}\n`,
  );
  for (const f of tally.fivexx) process.stdout.write(`  5xx ${f.status}: ${f.body}\n`);
  return result;
}

async function main() {
  const only = values.routes?.split(',');
  const ids = adapters.map((a) => a.id).filter((id) => !only || only.includes(id));
  const unknown = only?.filter((id) => !adapters.some((a) => a.id === id)) ?? [];
  if (unknown.length) throw new Error(`unknown routes: ${unknown.join(', ')}`);
  const started = Date.now();
  const results: RouteResult[] = [];
  let at = 0;
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL, ids.length) }, async () => {
      while (at < ids.length) {
        const place = at++;
        results.push(await fuzzRoute(ids[place]!, place));
      }
    }),
  );
  const total = results.reduce((n, r) => n + r.tally.sent, 0);
  const fivexx = results.reduce((n, r) => n + (r.tally.byClass['5xx'] ?? 0), 0);
  const peak = Math.max(...results.map((r) => r.peak));
  process.stdout.write(
    `\ntotal ${total} requests on ${results.length} routes in ${((Date.now() - started) / 1000).toFixed(0)} s; 5xx: ${fivexx}; highest collector peak RSS ${(peak / 1048576).toFixed(0)} MB\n`,
  );
  process.exit(fivexx === 0 ? 0 : 1);
}

await main();
