// The syslog listener and build-log streaming against the real Kafka broker: events and chunks arrive on
// their topics, keyed and in order, through the same code the collector runs.
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { adapters } from '../../ingest-adapters/index.ts';
import { KafkaBus, kafkaConfigSchema } from '../../src/bus/kafka.ts';
import type { ConsumedMessage } from '../../src/bus/types.ts';
import { Secret } from '../../src/config/secrets.ts';
import { buildLogsPlugin } from '../../src/ingest/build-logs/plugin.ts';
import type { BuildLogChunk } from '../../src/ingest/build-logs/types.ts';
import { BuildLogWriter } from '../../src/ingest/build-logs/writer.ts';
import { syslogConfigSchema } from '../../src/ingest/syslog/config.ts';
import { SyslogListener } from '../../src/ingest/syslog/listener.ts';
import { createLogger } from '../../src/log.ts';
import { Counters } from '../../src/metrics.ts';
import { SecretEngine } from '../../src/secrets/scanner.ts';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
const run = randomUUID().slice(0, 8);
const eventsTopic = `it-syslog-events-${run}`;
const logsTopic = `it-build-logs-${run}`;
let bus: KafkaBus;

async function waitFor(check: () => boolean, what: string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  bus = new KafkaBus(kafkaConfigSchema.parse({ brokers: inject('kafkaBrokers').split(',') }), { log });
  await bus.ensureTopics([eventsTopic, logsTopic]);
});
afterAll(async () => {
  await bus?.close();
});

describe('syslog listener on Kafka', () => {
  it('publishes routed events from TCP syslog to the events topic', async () => {
    const listener = new SyslogListener({
      config: syslogConfigSchema.parse({ enabled: true, tcpPort: 0, flushMs: 5 }),
      adapters,
      bus,
      topic: eventsTopic,
      metrics: new Counters(),
      log,
    });
    await listener.start();
    const got: ConsumedMessage[] = [];
    const sub = await bus.subscribe({
      topic: eventsTopic,
      group: `g-${run}`,
      handler: async (b) => void got.push(...b),
    });
    const N = 500;
    const text = Array.from(
      { length: N },
      (_, i) =>
        `<110>Jan  8 00:28:03 ci jenkins: /job/app-${i}/configSubmit by alice from 10.0.0.${i % 250}\n`,
    ).join('');
    const socket = await new Promise<Socket>((r) => {
      const s = connect(listener.tcpPort!, '127.0.0.1', () => r(s));
    });
    await new Promise<void>((r) => socket.end(text, r));
    await waitFor(() => got.length >= N, `${N} events`);
    const events = got.map((m) => JSON.parse(m.value));
    expect(new Set(events.map((e) => e.event.id)).size).toBe(N);
    expect(events.every((e) => e.pipewarden.kind === 'config.change' && e.user.name === 'alice')).toBe(true);
    expect(got.every((m) => m.key === 'alice')).toBe(true);
    await sub.stop();
    await listener.stop();
  });
});

describe('build-log streaming on Kafka', () => {
  it('puts every chunk of an upload on the build-logs topic, in order, under the job key', async () => {
    const server = Fastify();
    const writer = new BuildLogWriter({
      bus,
      buildLogsTopic: logsTopic,
      eventsTopic,
      chunkBytes: 4096,
      scanning: {
        engine: new SecretEngine(),
        fingerprintKey: 'integration-fingerprint-key',
        suppressFingerprints: [],
        suppressRules: [],
      },
    });
    await server.register(buildLogsPlugin, {
      writer,
      token: new Secret('tok', 't'),
      metrics: new Counters(),
    });
    const job = `jenkins:it:${run}`;
    const body = Array.from({ length: 5000 }, (_, i) => `line ${i} of the build\n`).join('');
    const res = await server.inject({
      method: 'POST',
      url: `/ingest/build-logs/${encodeURIComponent(job)}`,
      headers: { authorization: 'Bearer tok', 'content-type': 'text/plain' },
      payload: body,
    });
    expect(res.statusCode).toBe(202);
    const { chunks } = res.json() as { chunks: number };
    const got: BuildLogChunk[] = [];
    const sub = await bus.subscribe({
      topic: logsTopic,
      group: `g-logs-${run}`,
      handler: async (b) => {
        for (const m of b) {
          expect(m.key).toBe(job);
          got.push(JSON.parse(m.value));
        }
      },
    });
    await waitFor(() => got.length >= chunks, `${chunks} chunks`);
    expect(got.map((c) => c.seq)).toEqual(got.map((_, i) => i));
    expect(got.map((c) => c.text).join('')).toBe(body);
    expect(got.at(-1)!.final).toBe(true);
    await sub.stop();
    await server.close();
  });
});
