// The syslog listener: parsing, framing, routing to adapter line formats, and the real listener over TCP,
// UDP and TLS against a real embedded collector; backpressure while the bus refuses events.
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapters } from '../../ingest-adapters/index.ts';
import type { RunningApp } from '../../src/app.ts';
import { SqliteBus } from '../../src/bus/sqlite.ts';
import { type Bus, BusUnavailableError, type ConsumedMessage } from '../../src/bus/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { syslogConfigSchema } from '../../src/ingest/syslog/config.ts';
import { Framer } from '../../src/ingest/syslog/framer.ts';
import { SyslogListener } from '../../src/ingest/syslog/listener.ts';
import { parseSyslog } from '../../src/ingest/syslog/parse.ts';
import { createLogger } from '../../src/log.ts';
import { Counters } from '../../src/metrics.ts';
import { eventually, startEmbedded } from '../support/app.ts';
import { loadSample } from '../support/samples.ts';

const at = new Date('2026-03-10T12:00:00Z');
const log = createLogger({ level: 'silent' });
const JENKINS_LINE = loadSample('jenkins', 'audit-trail__configSubmit.json').body as string;
const ARTIFACTORY_LINE = loadSample(
  'artifactory',
  'artifactory-access.log__ACCEPTED_DOWNLOAD_anonymous_.json',
).body as string;

describe('syslog parse', () => {
  it('reads RFC 5424 headers, structured data, the BOM and nil values', () => {
    const m = parseSyslog(
      '<165>1 2026-03-10T11:59:58.123Z ci-1 jenkins 4242 ID47 [exampleSDID@32473 iut="3" eventID="10\\]11"] \uFEFFhello world',
      at,
    );
    expect(m).toMatchObject({
      format: '5424',
      facility: 20,
      severity: 5,
      timestamp: '2026-03-10T11:59:58.123Z',
      host: 'ci-1',
      app: 'jenkins',
      procId: '4242',
      msgId: 'ID47',
      msg: 'hello world',
    });
    expect(m.structuredData).toBe('[exampleSDID@32473 iut="3" eventID="10\\]11"]');
    const nil = parseSyslog('<13>1 - - - - - - ', at);
    expect(nil).toMatchObject({ format: '5424', msg: '' });
    expect(nil.host).toBeUndefined();
    const alp = parseSyslog('<134>1 2026-03-10T11:00:00Z ci ALP - - [login@18060 userId="alice"]', at);
    expect(alp.msg).toBe('');
    expect(alp.structuredData).toBe('[login@18060 userId="alice"]');
  });

  it('reads RFC 3164 with and without host, tag and pid, and the year from the receive time', () => {
    expect(parseSyslog('<34>Oct 11 22:14:15 mymachine su[123]: hello there', at)).toMatchObject({
      format: '3164',
      timestamp: '2025-10-11T22:14:15.000Z',
      host: 'mymachine',
      app: 'su',
      procId: '123',
      msg: 'hello there',
    });
    expect(parseSyslog('<13>Mar  9 01:02:03 artifactory: x y', at)).toMatchObject({
      timestamp: '2026-03-09T01:02:03.000Z',
      app: 'artifactory',
      msg: 'x y',
    });
    expect(parseSyslog('<13>Mar  9 01:02:03 host1 some text', at)).toMatchObject({
      host: 'host1',
      msg: 'some text',
    });
    expect(parseSyslog('no pri at all', at)).toEqual({ format: 'raw', msg: 'no pri at all' });
    expect(parseSyslog('<999>x', at).format).toBe('raw');
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string(), (s) => void parseSyslog(s, at)),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string(), (s) => void parseSyslog(`<13>1 ${s}`, at)),
      { numRuns: 500 },
    );
  });
});

describe('syslog framing', () => {
  const frames = (chunks: string[], max = 1000) => {
    const out: string[] = [];
    const bad: boolean[] = [];
    const f = new Framer(max, {
      message: (m) => out.push(m.toString()),
      oversize: (_x, fatal) => bad.push(fatal),
    });
    for (const c of chunks) f.push(Buffer.from(c));
    f.end();
    return { out, bad, framing: f.framing };
  };

  it('detects octet counting and newline framing from the first byte, across split reads', () => {
    const a = '<13>1 - h a - - - é one';
    const b = '<13>1 - h a - - - two\nwith newline';
    const octet = `${Buffer.byteLength(a)} ${a}${Buffer.byteLength(b)} ${b}`;
    for (const split of [1, 3, 7, octet.length]) {
      const buf = Buffer.from(octet);
      const got: string[] = [];
      const g = new Framer(1000, { message: (m) => got.push(m.toString()), oversize: () => {} });
      for (let i = 0; i < buf.length; i += split) g.push(buf.subarray(i, i + split));
      expect(got, String(split)).toEqual([a, b]);
      expect(g.framing).toBe('octet');
    }
    expect(frames(['<13>one\r\n<13>tw', 'o\n<13>three'])).toMatchObject({
      out: ['<13>one', '<13>two', '<13>three'],
      framing: 'newline',
    });
  });

  it('refuses frames over the limit: skips an overlong line, closes on an overlong octet count', () => {
    expect(frames([`<13>${'x'.repeat(50)}\n<13>ok\n`], 20)).toEqual({
      out: ['<13>ok'],
      bad: [false],
      framing: 'newline',
    });
    expect(frames([`<13>${'x'.repeat(30)}`, `${'x'.repeat(30)}\n<13>ok\n`], 20).out).toEqual(['<13>ok']);
    expect(frames(['99999 <13>x'], 100)).toMatchObject({ out: [], bad: [true] });
    expect(frames(['12x <13>x'], 100)).toMatchObject({ out: [], bad: [true] });
  });
});

// --- the listener in a real embedded collector ---

let app: RunningApp;
let certDir: string;
const events: PipewardenEvent[] = [];

beforeAll(async () => {
  certDir = mkdtempSync(join(tmpdir(), 'pw-syslog-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      join(certDir, 'key.pem'),
      '-out',
      join(certDir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const plain = await startEmbedded({ syslog: { enabled: true, tcpPort: 0, udpPort: 0, flushMs: 5 } }, {}, [
    'ingest',
  ]);
  app = plain.app;
  await app.bus.subscribe({
    topic: app.config.topics.events,
    group: 'test-syslog-reader',
    handler: async (batch: ConsumedMessage[]) => {
      for (const m of batch) events.push(JSON.parse(m.value));
    },
  });
});
afterAll(async () => {
  await app?.stop();
  rmSync(certDir, { recursive: true, force: true });
});

function send(socket: Socket, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(data, (err) => (err ? reject(err) : socket.end(resolve)));
  });
}
const tcp = () =>
  new Promise<Socket>((r) => {
    const s = connect(app.syslog!.tcpPort!, '127.0.0.1', () => r(s));
  });
const byMessage = (needle: string) => async () => events.find((e) => JSON.stringify(e).includes(needle));

describe('syslog listener', () => {
  it('routes newline-framed RFC 3164 lines over TCP to the Jenkins and Artifactory line formats', async () => {
    await send(
      await tcp(),
      `<110>Jan  8 00:28:03 ci jenkins: ${JENKINS_LINE}\n<110>May 15 15:52:11 repo artifactory: ${ARTIFACTORY_LINE}\n`,
    );
    const j = await eventually(
      byMessage('monitor-jenkins-grafana-prometheus/configSubmit'),
      10_000,
      'the Jenkins event',
    );
    expect(j).toMatchObject({
      pipewarden: { kind: 'config.change', source: 'jenkins' },
      user: { name: 'user2' },
    });
    expect((j.pipewarden.raw as { host?: string }).host).toBe('ci');
    const a = await eventually(byMessage('jcenter-cache:org/iostreams'), 10_000, 'the Artifactory event');
    expect(a).toMatchObject({
      pipewarden: { kind: 'access.anonymous', source: 'artifactory' },
      source: { ip: '86.12.14.192' },
    });
  });

  it('takes octet-counted RFC 5424 over TCP, including a multi-line message', async () => {
    const msg =
      "<110>1 2026-03-10T11:00:00Z ci jenkins - - - A groovy script was executed by user 'mallory'. Origin: Script Console Controller. \nThe executed script: \nprintln 'hi'";
    const line2 = "<110>1 2026-03-10T11:00:01Z ci jenkins - - - Failed login attempt for user 'eve'";
    await send(await tcp(), `${Buffer.byteLength(msg)} ${msg}${Buffer.byteLength(line2)} ${line2}`);
    const s = await eventually(
      async () => events.find((e) => e.user?.name === 'mallory'),
      10_000,
      'the script event',
    );
    expect(s.pipewarden.kind).toBe('config.change');
    const f = await eventually(
      async () => events.find((e) => e.user?.name === 'eve'),
      10_000,
      'the failed login',
    );
    expect(f.pipewarden.kind).toBe('login.failure');
  });

  it('takes UDP datagrams and keeps unmatched lines as syslog.unmatched, counted', async () => {
    const udp = createSocket('udp4');
    const dgram = (s: string) =>
      new Promise<void>((r, j) => udp.send(s, app.syslog!.udpPort!, '127.0.0.1', (e) => (e ? j(e) : r())));
    await dgram('<13>Mar 10 11:00:00 box sshd[1]: something no adapter owns 7f3a');
    await dgram(
      `<13>1 2026-03-10T11:00:00Z repo artifactory - - - 2024-05-01T10:00:00.000Z [abc] [DENIED LOGIN]   for client : bob / 10.0.0.5.`,
    );
    udp.close();
    const u = await eventually(byMessage('something no adapter owns 7f3a'), 10_000, 'the unmatched event');
    expect(u).toMatchObject({
      event: { dataset: 'syslog.unmatched', provider: 'sshd' },
      pipewarden: { kind: 'other', source: 'syslog' },
    });
    const d = await eventually(
      async () => events.find((e) => e.user?.name === 'bob'),
      10_000,
      'the denied login',
    );
    expect(d).toMatchObject({ pipewarden: { kind: 'login.failure' }, source: { ip: '10.0.0.5' } });
    expect(
      app.metrics.get('pipewarden_syslog_messages_total', { transport: 'udp', result: 'unmatched' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('serves TLS when a certificate and key are configured', async () => {
    const bus = new SqliteBus({ path: join(certDir, 'bus.sqlite'), retentionMs: 3_600_000 });
    await bus.ensureTopics(['ev']);
    const config = syslogConfigSchema.parse({
      enabled: true,
      tcpPort: 0,
      flushMs: 5,
      tls: { certFile: join(certDir, 'cert.pem'), keyFile: join(certDir, 'key.pem') },
    });
    const listener = new SyslogListener({ config, adapters, bus, topic: 'ev', metrics: new Counters(), log });
    await listener.start();
    const got: string[] = [];
    const sub = await bus.subscribe({
      topic: 'ev',
      group: 'g',
      handler: async (b) => void got.push(...b.map((m) => m.value)),
    });
    const socket = await new Promise<Socket>((r) => {
      const s = tlsConnect({ port: listener.tcpPort!, host: '127.0.0.1', rejectUnauthorized: false }, () =>
        r(s),
      );
    });
    await send(socket, `<110>Jan  8 00:28:03 ci jenkins: ${JENKINS_LINE}\n`);
    await eventually(async () => got.some((v) => v.includes('configSubmit')), 10_000, 'the event over TLS');
    await sub.stop();
    await listener.stop();
    await bus.close();
  });
});

/** A real SQLite bus behind a switch: while `down`, publishes are refused as when Kafka is unreachable. */
class GatedBus {
  down = true;
  refused = 0;
  readonly inner: SqliteBus;
  constructor(inner: SqliteBus) {
    this.inner = inner;
  }
  asBus(): Bus {
    return {
      kind: 'sqlite',
      ensureTopics: (t) => this.inner.ensureTopics(t),
      publish: async (topic, messages) => {
        if (this.down) {
          this.refused++;
          throw new BusUnavailableError('bus is down (test)');
        }
        return this.inner.publish(topic, messages);
      },
      subscribe: (o) => this.inner.subscribe(o),
      lag: (g, t) => this.inner.lag(g, t),
      ping: () => this.inner.ping(),
      close: () => this.inner.close(),
    };
  }
}

describe('syslog backpressure', () => {
  it('pauses TCP input while the bus is down and loses nothing once it is back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-syslog-bp-'));
    const gate = new GatedBus(new SqliteBus({ path: join(dir, 'bus.sqlite'), retentionMs: 3_600_000 }));
    const bus = gate.asBus();
    await bus.ensureTopics(['ev']);
    const config = syslogConfigSchema.parse({ enabled: true, tcpPort: 0, batchSize: 50, flushMs: 5 });
    const metrics = new Counters();
    const listener = new SyslogListener({ config, adapters, bus, topic: 'ev', metrics, log });
    await listener.start();
    const N = 20_000;
    const lines = Array.from(
      { length: N },
      (_, i) =>
        `<110>Jan  8 00:28:03 ci jenkins: /job/app-${i}/configSubmit by user${i % 7} from 10.0.${i % 250}.1\n`,
    ).join('');
    const socket = await new Promise<Socket>((r) => {
      const s = connect(listener.tcpPort!, '127.0.0.1', () => r(s));
    });
    socket.write(lines);
    // While the bus is down the listener stops reading: the sender's data waits in the socket buffers.
    await eventually(async () => gate.refused >= 2, 10_000, 'refused publishes');
    await new Promise((r) => setTimeout(r, 300));
    const read = metrics.get('pipewarden_syslog_messages_total', { transport: 'tcp', result: 'matched' });
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(N / 2);
    expect(metrics.get('pipewarden_syslog_publish_failures_total')).toBeGreaterThanOrEqual(2);
    gate.down = false;
    socket.end();
    const ids = new Set<string>();
    const sub = await bus.subscribe({
      topic: 'ev',
      group: 'g',
      maxBatch: 5000,
      handler: async (b) => {
        for (const m of b) ids.add(JSON.parse(m.value).event.id);
      },
    });
    await eventually(async () => ids.size === N, 30_000, `all ${N} events`);
    await sub.stop();
    await listener.stop();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
