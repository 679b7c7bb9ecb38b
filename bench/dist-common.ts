// What the distributed benches (kafka-producer, index-role, e2e-load) share: the services, role processes,
// CPU time of a process, signed GitHub pushes.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Client } from '@elastic/elasticsearch';
import { loadSample } from '../ingest-adapters/fixtures.ts';

const SERVICES = new URL('../deploy/local/services.sh', import.meta.url).pathname;

/** KAFKA_BROKERS and ELASTICSEARCH_URL: the ones set, or the local services (started when not set). */
export function useServices(): { brokers: string[]; esUrl: string } {
  if (!process.env.KAFKA_BROKERS || !process.env.ELASTICSEARCH_URL) {
    execFileSync('bash', [SERVICES, 'start'], { stdio: 'inherit' });
    for (const line of execFileSync('bash', [SERVICES, 'env'], { encoding: 'utf8' }).split('\n')) {
      const [k, v] = line.split('=');
      if (k && v) process.env[k] = v;
    }
  }
  return { brokers: process.env.KAFKA_BROKERS!.split(','), esUrl: process.env.ELASTICSEARCH_URL! };
}

/** Class path of Kafka's tool jars (fetched into the cache by services.sh on first use). */
export function kafkaToolsClasspath(): { classpath: string; log4j: string } {
  const classpath = execFileSync('bash', [SERVICES, 'tools-classpath'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return { classpath, log4j: classpath.replace(/lib\/\*$/, 'log4j.properties') };
}

/** The local services' process ids (deploy/local/services.sh pid files); none when they run elsewhere. */
export function servicePids(): { kafka?: number; elasticsearch?: number } {
  const runDir = process.env.PIPEWARDEN_RUN_DIR
    ? `${process.env.PIPEWARDEN_RUN_DIR}/services`
    : new URL('../.run/services', import.meta.url).pathname;
  const pid = (name: string) => {
    try {
      const n = Number(readFileSync(`${runDir}/${name}.pid`, 'utf8').trim());
      return n > 0 && cpuSeconds(n) >= 0 ? n : undefined;
    } catch {
      return undefined;
    }
  };
  return { kafka: pid('kafka'), elasticsearch: pid('elasticsearch') };
}

/** CPU seconds of each of the local services so far (NaN for one not found). */
export function serviceCpu(): { kafka: number; elasticsearch: number } {
  const { kafka, elasticsearch } = servicePids();
  return {
    kafka: kafka ? cpuSeconds(kafka) : Number.NaN,
    elasticsearch: elasticsearch ? cpuSeconds(elasticsearch) : Number.NaN,
  };
}

/** User + system CPU seconds the process has used so far (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(
  (() => {
    try {
      return execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    } catch {
      return '100';
    }
  })(),
);

export interface RoleProcess {
  url: string;
  child: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

/**
 * bench/dist-role.ts in its own Node process. `preload` modules are loaded (node -r) before the app, e.g.
 * kafkajs's own JavaScript CRC32C to measure the client without the native one.
 */
export async function startRole(
  run: string,
  roles: string[],
  options: { extra?: object; preload?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<RoleProcess> {
  const args = [
    ...(options.preload ?? []).flatMap((p) => ['-r', p]),
    new URL('./dist-role.ts', import.meta.url).pathname,
    run,
    roles.join(','),
    ...(options.extra ? [JSON.stringify(options.extra)] : []),
  ];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...options.env },
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${roles.join(',')} process exited with ${code}`)));
  });
  return {
    url: url.trim(),
    child,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

export const WEBHOOK_SECRET = 'bench-secret-0123456789';
const sample = loadSample('github', 'push__default.json');
const push = sample.body as Record<string, unknown>;
export const PUSH_BYTES = JSON.stringify(push).length;

/**
 * A distinct push (its own `after` commit: event ids come from the signed content, so the same body again
 * would be a replay that never reaches the bus), HMAC-signed as GitHub signs it.
 */
export function signedPush(seq: number, run: string): { body: string; signature: string } {
  const after = createHash('sha1').update(`${run}/${seq}`).digest('hex');
  // Pushed by one of 61 developers: events keyed by user spread over the partitions, as in real traffic.
  const dev = `dev-${seq % 61}`;
  const body = JSON.stringify({
    ...push,
    after,
    pusher: { ...(push.pusher as object), name: dev },
    sender: { ...(push.sender as object), login: dev },
  });
  return { body, signature: `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}` };
}

export function spread(xs: number[], digits = 0): string {
  return `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Searchable latency: looks up the pending event ids (id → when its publish or 202 was seen) in one `ids`
 * search; each one found is removed and its wait since then added to `searchMs`.
 */
export async function takeSearchable(
  client: Client,
  index: string,
  pending: Map<string, number>,
  searchMs: number[],
  limit = Number.POSITIVE_INFINITY,
): Promise<void> {
  const ids = [...pending.keys()].slice(0, limit);
  if (ids.length === 0) return;
  const res = await client.search({
    index,
    size: ids.length,
    _source: false,
    query: { ids: { values: ids } },
    ignore_unavailable: true,
  });
  const now = performance.now();
  for (const h of res.hits.hits) {
    const at = pending.get(h._id!);
    if (at === undefined) continue;
    searchMs.push(now - at);
    pending.delete(h._id!);
  }
}
