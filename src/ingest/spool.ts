// A durable local spool for the ingest role (issue 10, item 4). Most webhook senders never redeliver a
// 503, so while the bus is unreachable the events go to a local SQLite file (synchronous=FULL: fsync'd
// at each commit) and are forwarded in order once the bus is back. While anything is spooled, new events
// are spooled too, behind it, so the order on the bus stays the order of arrival. Bounded in bytes: only
// a full spool turns senders away (503). Forwarding twice is harmless: event ids derive from content
// and the store writes create-only. Anchors: Vector's disk buffers, Fluent Bit's filesystem storage.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { z } from 'zod';
import { type Bus, BusUnavailableError, MessageTooLargeError, type OutgoingMessage } from '../bus/types.ts';
import type { Logger } from '../log.ts';
import { renderGauge } from '../metrics.ts';

export const spoolConfigSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** On local disk; the file is spool.sqlite inside. */
  dir: z.string().min(1).default('./spool'),
  /** Bytes of spooled message values (and keys) past which new events are refused with 503. */
  maxBytes: z
    .number()
    .int()
    .min(1024 * 1024)
    .default(1024 * 1024 * 1024),
});
export type SpoolConfig = z.output<typeof spoolConfigSchema>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS spool (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  headers TEXT,
  bytes INTEGER NOT NULL
);`;

/** Forwarded per round: at most this many messages, or about this many bytes. */
const FORWARD_MAX = 500;
const FORWARD_MAX_BYTES = 512 * 1024;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;

const sizeOf = (m: OutgoingMessage) => Buffer.byteLength(m.value) + Buffer.byteLength(m.key);

interface Row {
  seq: number;
  topic: string;
  key: string;
  value: string;
  headers: string | null;
  bytes: number;
}

export class Spool {
  readonly #db: DatabaseSync;
  readonly #bus: Bus;
  readonly #maxBytes: number;
  readonly #log: Logger | undefined;
  readonly #sql: { insert: StatementSync; head: StatementSync; drop: StatementSync; totals: StatementSync };
  #bytes = 0;
  #depth = 0;
  #forwarding: Promise<void> | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  #lastError: string | undefined;

  constructor(config: Pick<SpoolConfig, 'dir' | 'maxBytes'>, bus: Bus, options: { log?: Logger } = {}) {
    mkdirSync(config.dir, { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(join(config.dir, 'spool.sqlite'));
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
    this.#db.exec(SCHEMA);
    this.#sql = {
      insert: this.#db.prepare(
        'INSERT INTO spool (topic, key, value, headers, bytes) VALUES (?, ?, ?, ?, ?)',
      ),
      head: this.#db.prepare('SELECT seq, topic, key, value, headers, bytes FROM spool ORDER BY seq LIMIT ?'),
      drop: this.#db.prepare('DELETE FROM spool WHERE seq <= ?'),
      totals: this.#db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM spool'),
    };
    const t = this.#sql.totals.get() as { n: number; b: number };
    this.#depth = t.n;
    this.#bytes = t.b;
    this.#bus = bus;
    this.#maxBytes = config.maxBytes;
    this.#log = options.log?.child({ component: 'spool' });
    if (this.#depth > 0) {
      this.#log?.info(
        { depth: this.#depth, bytes: this.#bytes },
        'Spool holds events from before; forwarding.',
      );
      this.#startForwarding();
    }
  }

  /** Messages waiting to be forwarded. */
  get depth(): number {
    return this.#depth;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** For readiness: why the spool cannot take events now, or undefined when it can. */
  problem(): string | undefined {
    if (this.#closed) return 'closed';
    if (this.#bytes >= this.#maxBytes) return `full: ${this.#bytes} of ${this.#maxBytes} bytes`;
    return this.#lastError;
  }

  /**
   * The bus as the ingest role uses it: publish goes to the bus while nothing is spooled, to the spool
   * when the bus is unreachable or anything is already waiting. Everything else is the bus's.
   */
  wrap(): Bus {
    const bus = this.#bus;
    return {
      kind: bus.kind,
      ensureTopics: (t) => bus.ensureTopics(t),
      publish: (topic, messages) => this.publish(topic, messages),
      subscribe: (o) => bus.subscribe(o),
      lag: (g, t) => bus.lag(g, t),
      ping: () => bus.ping(),
      close: () => bus.close(),
    };
  }

  async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    if (this.#depth === 0 && !this.#forwarding) {
      try {
        await this.#bus.publish(topic, messages);
        return;
      } catch (err) {
        if (!(err instanceof BusUnavailableError)) throw err;
        this.#log?.warn({ err: err.message }, 'Bus unreachable; spooling events to local disk.');
      }
    }
    this.#append(topic, messages);
    this.#startForwarding();
  }

  /** Stops forwarding (what is spooled stays for the next start) and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    await this.#forwarding;
    this.#db.close();
  }

  /** All of one publish or none of it, durable when it returns. Throws BusUnavailableError when full. */
  #append(topic: string, messages: OutgoingMessage[]): void {
    if (this.#closed) throw new BusUnavailableError('the spool is closed');
    const bytes = messages.reduce((n, m) => n + sizeOf(m), 0);
    if (this.#bytes + bytes > this.#maxBytes)
      throw new BusUnavailableError(
        `the bus is unreachable and the local spool is full (${this.#bytes} of ${this.#maxBytes} bytes)`,
      );
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      for (const m of messages)
        this.#sql.insert.run(topic, m.key, m.value, m.headers ? JSON.stringify(m.headers) : null, sizeOf(m));
      this.#db.exec('COMMIT');
      this.#lastError = undefined;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      this.#lastError = `cannot write: ${(err as Error).message}`;
      throw new BusUnavailableError(
        `the bus is unreachable and the local spool cannot write (${(err as Error).message})`,
        { cause: err },
      );
    }
    this.#depth += messages.length;
    this.#bytes += bytes;
  }

  #startForwarding(): void {
    if (this.#forwarding || this.#closed) return;
    this.#forwarding = this.#forward().finally(() => {
      this.#forwarding = undefined;
      // Appended after the last round read the head but before `#forwarding` cleared: go again.
      if (this.#depth > 0 && !this.#closed) this.#startForwarding();
    });
  }

  /** Oldest first, one round at a time; a round is dropped from the spool only once the bus has it. */
  async #forward(): Promise<void> {
    let backoff = RETRY_MIN_MS;
    while (!this.#closed && this.#depth > 0) {
      const rows = this.#head();
      if (rows.length === 0) {
        this.#depth = 0;
        this.#bytes = 0;
        return;
      }
      try {
        // Consecutive runs per topic, in spool order.
        for (let i = 0; i < rows.length; ) {
          let j = i;
          while (j < rows.length && rows[j]!.topic === rows[i]!.topic) j++;
          await this.#publishRun(rows.slice(i, j));
          i = j;
        }
      } catch (err) {
        this.#log?.warn(
          { err: (err as Error).message, depth: this.#depth, backoffMs: backoff },
          'Spool forwarding failed; will retry.',
        );
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, RETRY_MAX_MS);
        continue;
      }
      backoff = RETRY_MIN_MS;
      const last = rows.at(-1)!;
      this.#sql.drop.run(last.seq);
      this.#depth -= rows.length;
      this.#bytes -= rows.reduce((n, r) => n + r.bytes, 0);
      if (this.#depth <= 0) {
        const t = this.#sql.totals.get() as { n: number; b: number };
        this.#depth = t.n;
        this.#bytes = t.b;
        if (this.#depth === 0) this.#log?.info('Spool drained; events go straight to the bus again.');
      }
    }
  }

  async #publishRun(rows: Row[]): Promise<void> {
    const messages = rows.map(
      (r): OutgoingMessage => ({
        key: r.key,
        value: r.value,
        ...(r.headers ? { headers: JSON.parse(r.headers) as Record<string, string> } : {}),
      }),
    );
    try {
      await this.#bus.publish(rows[0]!.topic, messages);
    } catch (err) {
      if (!(err instanceof MessageTooLargeError)) throw err;
      // Cannot happen with topics sized to the body limit; never block the spool behind it.
      this.#log?.error(
        { topic: rows[0]!.topic, count: rows.length },
        'The bus refused spooled messages as too large; dropped them.',
      );
    }
  }

  #head(): Row[] {
    const rows = this.#sql.head.all(FORWARD_MAX) as unknown as Row[];
    let bytes = 0;
    let n = 0;
    while (n < rows.length && (n === 0 || bytes + rows[n]!.bytes <= FORWARD_MAX_BYTES))
      bytes += rows[n++]!.bytes;
    return rows.slice(0, n);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      this.#wake = done;
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}

/** The ingest role's spool when configured on, else undefined. */
export function createSpool(
  config: { ingest: { spool: SpoolConfig } },
  roles: readonly string[],
  bus: Bus,
  log?: Logger,
): Spool | undefined {
  const c = config.ingest.spool;
  if (!c.enabled || !roles.includes('ingest')) return undefined;
  return new Spool(c, bus, log ? { log } : {});
}

/** Spool depth for /metrics, read at scrape time. */
export function spoolGauges(spool: Spool | undefined): string {
  if (!spool) return '';
  return [
    renderGauge('pipewarden_spool_depth', 'Events in the local spool waiting for the bus.', [
      { labels: {}, value: spool.depth },
    ]),
    renderGauge('pipewarden_spool_bytes', 'Bytes in the local spool waiting for the bus.', [
      { labels: {}, value: spool.bytes },
    ]),
  ].join('');
}
