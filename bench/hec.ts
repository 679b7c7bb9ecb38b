// Ingest rate of the Splunk HEC endpoint (GitHub audit-log streaming): requests of 50 real audit entries,
// embedded and distributed, against the bare Fastify JSON route of bench/ingest-target.ts in the same run.
//   node bench/hec.ts            (the load generator; writes BENCHMARKS.md)
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { loadSamples } from '../ingest-adapters/fixtures.ts';
import { median, writeSection } from './report.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 16;
const PER_REQUEST = 50;
const TOKEN = 'bench-hec-token-0123';

{
  // 50 real audit entries (the fixtures, repeated), each in a HEC envelope, one per line, as GitHub streams them.
  const entries = loadSamples('github-audit').map((s) => s.body as object);
  const batch = Array.from({ length: PER_REQUEST }, (_, i) => ({
    ...entries[i % entries.length],
    _document_id: `bench-${i}`,
  }));
  const hecBody = batch
    .map((event) => JSON.stringify({ event, sourcetype: 'github:enterprise:audit' }))
    .join('\n');
  // The baseline parses the same envelopes as one JSON array (its JSON parser cannot read concatenated objects).
  const baselineBody = `[${batch.map((event) => JSON.stringify({ event, sourcetype: 'github:enterprise:audit' })).join(',')}]`;

  const start = async (args: string[]): Promise<{ url: string; child: ChildProcess }> => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    });
    return { url: line.trim(), child };
  };

  interface Result {
    eps: number;
    rps: number;
    p50: number;
    p99: number;
    non2xx: number;
  }

  const load = async (
    url: string,
    path: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<Result> => {
    const r = await autocannon({
      url: `${url}${path}`,
      method: 'POST',
      connections: CONNECTIONS,
      duration: SECONDS,
      headers,
      body,
    });
    return {
      eps: r.requests.average * PER_REQUEST,
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      non2xx: r.non2xx + r.errors,
    };
  };

  const measure = async (
    name: string,
    args: string[],
    path: string,
    body: string,
    headers: Record<string, string>,
  ) => {
    const { url, child } = await start(args);
    try {
      await load(url, path, body, headers); // warm-up
      const runs: Result[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await load(url, path, body, headers));
      const med: Result = {
        eps: median(runs.map((r) => r.eps)),
        rps: median(runs.map((r) => r.rps)),
        p50: median(runs.map((r) => r.p50)),
        p99: median(runs.map((r) => r.p99)),
        non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
      };
      process.stderr.write(
        `${name}: median ${med.eps.toFixed(0)} events/s (runs: ${runs.map((r) => r.eps.toFixed(0)).join(', ')})\n`,
      );
      return med;
    } finally {
      child.kill('SIGTERM');
    }
  };

  const services = process.env.KAFKA_BROKERS && process.env.ELASTICSEARCH_URL;
  if (!services) {
    const script = new URL('../deploy/local/services.sh', import.meta.url).pathname;
    execFileSync('bash', [script, 'start'], { stdio: 'inherit' });
    for (const line of execFileSync('bash', [script, 'env'], { encoding: 'utf8' }).split('\n')) {
      const [k, v] = line.split('=');
      if (k && v) process.env[k] = v;
    }
  }

  const hecHeaders = { authorization: `Splunk ${TOKEN}`, 'content-type': 'application/json' };
  const baseline = await measure(
    'baseline',
    [new URL('./ingest-target.ts', import.meta.url).pathname, 'baseline'],
    '/ingest/github',
    baselineBody,
    { 'content-type': 'application/json' },
  );
  const embedded = await measure(
    'embedded',
    [new URL('./ingest-target.ts', import.meta.url).pathname, 'embedded'],
    '/services/collector/event',
    hecBody,
    hecHeaders,
  );
  const distributed = await measure(
    'distributed',
    [new URL('./ingest-target.ts', import.meta.url).pathname, 'distributed'],
    '/services/collector/event',
    hecBody,
    hecHeaders,
  );

  const row = (name: string, m: Result) =>
    `| ${name} | ${m.eps.toFixed(0)} | ${m.rps.toFixed(0)} | ${(m.eps / baseline.eps).toFixed(2)} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} | ${m.non2xx} |`;
  writeSection(
    'Ingest: Splunk HEC endpoint',
    `Method: \`node bench/hec.ts\`. Each target runs in its own Node ${process.versions.node} process; autocannon drives it over
loopback with ${CONNECTIONS} connections for ${SECONDS} s, ${RUNS} runs after a warm-up run; figures are medians. Every request is
\`POST /services/collector/event\` with \`Authorization: Splunk <token>\` and ${PER_REQUEST} real GitHub audit-log entries (the
github-audit fixtures, repeated) as newline-separated HEC envelopes (${hecBody.length} bytes), as GitHub's Splunk stream sends
them. A request counts when it was answered 200 \`{"text":"Success","code":0}\`, i.e. after its ${PER_REQUEST} events were durably
on the bus (embedded: SQLite, all roles in the process; distributed: Kafka acks=all, ingest role alone). The baseline is
the bare Fastify JSON route of \`bench/ingest-target.ts\` parsing the same envelopes sent as one JSON array.
Machine: ${process.env.BENCH_MACHINE ?? '2 cores, shared'}; date ${new Date().toISOString().slice(0, 10)}.

| target | events/s (median) | requests/s | ratio to baseline | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|---|---|
${row('bare Fastify JSON route (baseline)', baseline)}
${row('embedded (SQLite bus, all roles)', embedded)}
${row('distributed (Kafka bus, ingest role)', distributed)}
`,
  );
  process.stderr.write('Wrote the HEC section of BENCHMARKS.md\n');
}
