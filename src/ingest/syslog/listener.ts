// The syslog listener: RFC 5424 / 3164 over TCP (octet counting or newline framing, optionally TLS) and UDP.
// Each message's MSG goes to the first adapter line format that matches it (registry order); the events are
// published in batches. While the bus refuses them, TCP sockets are paused, so accepted data is not lost.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { eventMessage } from '../../bus/encode.ts';
import type { Bus, OutgoingMessage } from '../../bus/types.ts';
import { eventId, type PipewardenEvent } from '../../event.ts';
import type { Logger } from '../../log.ts';
import type { Counters } from '../../metrics.ts';
import type { IngestAdapter, LineFormat } from '../types.ts';
import type { SyslogConfig } from './config.ts';
import { Framer } from './framer.ts';
import { lineOf, parseSyslog, type SyslogMessage } from './parse.ts';

export interface SyslogListenerOptions {
  config: SyslogConfig;
  adapters: Pick<IngestAdapter, 'id' | 'lines'>[];
  bus: Bus;
  topic: string;
  metrics: Counters;
  log: Logger;
  now?: () => Date;
}

interface Route {
  source: string;
  format: LineFormat;
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;

/**
 * Pure: one syslog message to its event. A line no adapter claims is kept as an `other` event of dataset
 * `syslog.unmatched`, so nothing sent to pipewarden vanishes unseen (and a new log variant shows up).
 */
export function routeMessage(
  m: SyslogMessage,
  routes: Route[],
  receivedAt: Date,
  transport: string,
): { event: PipewardenEvent | null; result: 'matched' | 'ignored' | 'unmatched'; source?: string } {
  const line = lineOf(m);
  const meta = { transport, ...(m.host ? { host: m.host } : {}), ...(m.app ? { app: m.app } : {}) };
  for (const r of routes) {
    const event = r.format.read(line, receivedAt, meta);
    if (event === undefined) continue;
    return event
      ? { event, result: 'matched', source: r.source }
      : { event: null, result: 'ignored', source: r.source };
  }
  const at = m.timestamp ?? receivedAt.toISOString();
  const event: PipewardenEvent = {
    '@timestamp': at,
    message: line.length > 1024 ? `${line.slice(0, 1024)}…` : line,
    event: {
      id: eventId('syslog', m.host, m.app, m.timestamp ?? receivedAt.toISOString(), line),
      kind: 'event',
      category: ['host'],
      type: ['info'],
      action: m.app ?? 'syslog',
      outcome: 'unknown',
      dataset: 'syslog.unmatched',
      provider: m.app ?? 'syslog',
      ingested: receivedAt.toISOString(),
    },
    pipewarden: {
      kind: 'other',
      source: 'syslog',
      raw: {
        format: m.format,
        ...(m.facility !== undefined ? { facility: m.facility, severity: m.severity } : {}),
        ...(m.host ? { host: m.host } : {}),
        ...(m.procId ? { procid: m.procId } : {}),
        ...(m.msgId ? { msgid: m.msgId } : {}),
        transport,
      },
    },
  };
  return { event, result: 'unmatched' };
}

export class SyslogListener {
  readonly #o: SyslogListenerOptions;
  readonly #routes: Route[];
  readonly #now: () => Date;
  readonly #log: Logger;
  #tcp: Server | undefined;
  #udp: UdpSocket | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #paused = new Set<Socket>();
  #queue: OutgoingMessage[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #failing = false;
  #backoff = BACKOFF_MIN_MS;
  #stopped = false;
  tcpPort: number | undefined;
  udpPort: number | undefined;

  constructor(options: SyslogListenerOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
    this.#log = options.log.child({ component: 'syslog' });
    this.#routes = options.adapters.flatMap((a) =>
      (a.lines ?? []).map((format) => ({ source: a.id, format })),
    );
    const m = options.metrics;
    m.describe(
      'pipewarden_syslog_messages_total',
      'Syslog messages by transport and result (matched, ignored, unmatched, oversize, error).',
    );
    m.describe('pipewarden_syslog_events_total', 'Events the syslog listener published, by source.');
    m.describe(
      'pipewarden_syslog_publish_failures_total',
      'Failed publishes of syslog events (retried; TCP paused meanwhile).',
    );
  }

  /** Too much waiting, or the bus refusing: TCP readers pause until a publish succeeds. */
  get #pressure(): boolean {
    return this.#failing || this.#queue.length >= this.#o.config.batchSize * 4;
  }

  async start(): Promise<void> {
    const c = this.#o.config;
    if (c.tcpPort !== undefined) {
      const onConnection = (socket: Socket) => this.#connection(socket, c.tls ? 'tls' : 'tcp');
      this.#tcp = c.tls
        ? createTlsServer(
            { cert: readFileSync(c.tls.certFile), key: readFileSync(c.tls.keyFile) },
            onConnection,
          )
        : createTcpServer(onConnection);
      this.#tcp.maxConnections = c.maxConnections;
      this.#tcp.on('error', (err) => this.#log.error({ err }, 'Syslog TCP server error.'));
      await new Promise<void>((resolve, reject) => {
        this.#tcp!.once('error', reject);
        this.#tcp!.listen(c.tcpPort, c.host, () => {
          this.#tcp!.off('error', reject);
          resolve();
        });
      });
      this.tcpPort = (this.#tcp.address() as { port: number }).port;
    }
    if (c.udpPort !== undefined) {
      this.#udp = createSocket(c.host.includes(':') ? 'udp6' : 'udp4');
      this.#udp.on('message', (data) => {
        // UDP cannot be slowed down: past the limit a datagram is cut, and past the backlog it is dropped.
        if (this.#queue.length >= c.batchSize * 20) return this.#count('udp', 'dropped');
        const body = data.length > c.maxMessageBytes ? data.subarray(0, c.maxMessageBytes) : data;
        if (body !== data) this.#count('udp', 'oversize');
        this.#accept(body, 'udp');
      });
      this.#udp.on('error', (err) => this.#log.error({ err }, 'Syslog UDP socket error.'));
      await new Promise<void>((resolve, reject) => {
        this.#udp!.once('error', reject);
        this.#udp!.bind(c.udpPort, c.host, () => {
          this.#udp!.off('error', reject);
          resolve();
        });
      });
      this.udpPort = this.#udp.address().port;
    }
    this.#log.info(
      {
        host: c.host,
        tcpPort: this.tcpPort,
        udpPort: this.udpPort,
        tls: Boolean(c.tls),
        formats: this.#routes.map((r) => r.source),
      },
      'Syslog listener is running.',
    );
  }

  #count(transport: string, result: string, by = 1) {
    this.#o.metrics.inc('pipewarden_syslog_messages_total', { transport, result }, by);
  }

  #connection(socket: Socket, transport: 'tcp' | 'tls') {
    this.#sockets.add(socket);
    socket.setTimeout(this.#o.config.idleTimeoutMs, () => socket.destroy());
    const framer = new Framer(this.#o.config.maxMessageBytes, {
      message: (msg) => this.#accept(msg, transport),
      oversize: (framing, fatal) => {
        this.#count(transport, 'oversize');
        if (fatal) {
          this.#log.warn(
            { remote: socket.remoteAddress, framing },
            'Closed a syslog connection: frame over maxMessageBytes.',
          );
          socket.destroy();
        }
      },
    });
    socket.on('data', (data: Buffer) => {
      framer.push(data);
      if (this.#pressure && !socket.isPaused()) {
        socket.pause();
        this.#paused.add(socket);
      }
    });
    socket.on('end', () => {
      framer.end();
      socket.end();
    });
    socket.on('error', (err) => this.#log.debug({ err: err.message }, 'Syslog connection error.'));
    socket.on('close', () => {
      this.#sockets.delete(socket);
      this.#paused.delete(socket);
    });
  }

  #accept(data: Buffer, transport: string) {
    const receivedAt = this.#now();
    const m = parseSyslog(data.toString('utf8'), receivedAt);
    let routed: ReturnType<typeof routeMessage>;
    try {
      routed = routeMessage(m, this.#routes, receivedAt, `syslog/${transport}`);
    } catch (err) {
      // A line format that throws is a bug there: keep the line as unmatched rather than lose it.
      this.#log.error({ err }, 'A line format threw on a syslog message.');
      this.#count(transport, 'error');
      routed = routeMessage(m, [], receivedAt, `syslog/${transport}`);
    }
    this.#count(transport, routed.result);
    if (!routed.event) return;
    this.#o.metrics.inc('pipewarden_syslog_events_total', { source: routed.source ?? 'syslog' });
    this.#queue.push(eventMessage(routed.event));
    if (this.#queue.length >= this.#o.config.batchSize) void this.#flush();
    else this.#timer ??= setTimeout(() => void this.#flush(), this.#o.config.flushMs);
  }

  /** Publishes what is queued, one batch at a time; on failure keeps it and retries with backoff. */
  #flush(): Promise<void> {
    if (this.#flushing) return this.#flushing;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#queue.length === 0) return Promise.resolve();
    this.#flushing = (async () => {
      while (this.#queue.length > 0) {
        const batch = this.#queue.slice(0, this.#o.config.batchSize);
        try {
          await this.#o.bus.publish(this.#o.topic, batch);
        } catch (err) {
          this.#failing = true;
          this.#o.metrics.inc('pipewarden_syslog_publish_failures_total');
          this.#log.warn(
            { err: (err as Error).message, queued: this.#queue.length, retryInMs: this.#backoff },
            'Bus refused syslog events; pausing TCP input and retrying.',
          );
          for (const s of this.#sockets) {
            if (s.isPaused()) continue;
            s.pause();
            this.#paused.add(s);
          }
          if (this.#stopped) return;
          await new Promise((r) => setTimeout(r, this.#backoff));
          this.#backoff = Math.min(this.#backoff * 2, BACKOFF_MAX_MS);
          continue;
        }
        this.#queue.splice(0, batch.length);
        this.#failing = false;
        this.#backoff = BACKOFF_MIN_MS;
        if (!this.#pressure) this.#resume();
      }
    })().finally(() => {
      this.#flushing = undefined;
      if (this.#queue.length > 0 && !this.#stopped) void this.#flush();
    });
    return this.#flushing;
  }

  #resume() {
    for (const s of this.#paused) s.resume();
    this.#paused.clear();
  }

  /** Stops listening, closes connections, and publishes what is still queued (one try when the bus is down). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const tcp = this.#tcp;
    const closed = tcp ? new Promise<void>((r) => tcp.close(() => r())) : Promise.resolve();
    for (const s of this.#sockets) s.destroy();
    this.#udp?.close();
    await closed;
    await this.#flush(); // #stopped is set: a failed publish is tried once, not retried
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#queue.length)
      this.#log.error({ lost: this.#queue.length }, 'Syslog events still queued at stop were not published.');
  }
}
