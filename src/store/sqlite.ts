// The embedded store: SQLite through node:sqlite, FTS5 for free text. One file on local disk, WAL mode.
import { DatabaseSync, type SQLInputValue, type SQLOutputValue } from 'node:sqlite';
import type { AlertRecord } from '../alerting/types.ts';
import type { PipewardenEvent } from '../event.ts';
import type { Logger } from '../log.ts';
import { toSqlite } from '../search/compile-sqlite.ts';
import type { QueryNode } from '../search/query.ts';
import { unlinkedText } from '../trail/chain.ts';
import type { Checkpoint, TrailLink } from '../trail/types.ts';
import { ipMatcher } from '../util/ip.ts';
import { privateFile } from '../util/private-files.ts';
import { decodeCursor, encodeCursor, pageSize, parseTime } from './paging.ts';
import {
  type AlertQuery,
  denseBuckets,
  type EventQuery,
  type HistogramBucket,
  type HistogramRange,
  type Page,
  type Store,
  type TokenRecord,
  type TokenRole,
  TRACE_FIELDS,
  type TraceField,
} from './types.ts';

const SCHEMA = `
  -- ts is epoch milliseconds: ISO strings with offsets or other precisions would not sort as text.
  CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    ts INTEGER NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    repository TEXT,
    action TEXT,
    outcome TEXT,
    source_ip TEXT,
    doc TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS events_ts ON events (ts DESC, id DESC);
  CREATE INDEX IF NOT EXISTS events_source ON events (source, ts DESC, id DESC);
  CREATE INDEX IF NOT EXISTS events_kind ON events (kind, ts DESC, id DESC);
  CREATE INDEX IF NOT EXISTS events_actor ON events (actor, ts DESC, id DESC);
  CREATE INDEX IF NOT EXISTS events_repository ON events (repository, ts DESC, id DESC);
  -- Contentless: the text already lives in events.doc; rows join on rowid and are written once (insert-only).
  CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5 (
    message, action, actor, repository, dataset, other,
    content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
  );
  CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    ts INTEGER NOT NULL,
    detector TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts DESC, id DESC);
  CREATE INDEX IF NOT EXISTS alerts_detector ON alerts (detector, ts DESC, id DESC);
  CREATE INDEX IF NOT EXISTS alerts_severity ON alerts (severity, ts DESC, id DESC);
  CREATE INDEX IF NOT EXISTS alerts_status ON alerts (status, ts DESC, id DESC);
  CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
`;

// --- trail (src/trail) ---------------------------------------------------------------------------------
// A chained event's link lives in trail_links, one compact row keyed by the event's rowid and written in
// the same transaction; the document keeps the exact bytes the link hashed. (An expression index on the
// link inside the document cost more than half of chaining: json_extract on every insert.)
const TRAIL_SCHEMA = `
  CREATE TABLE IF NOT EXISTS trail_links (
    ev INTEGER PRIMARY KEY, -- events.rowid
    partition INTEGER NOT NULL,
    bus_offset INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL,
    v INTEGER -- link version (src/trail/chain.ts); NULL: 1
  );
  CREATE INDEX IF NOT EXISTS trail_links_order ON trail_links (partition, bus_offset);
  CREATE TABLE IF NOT EXISTS trail_checkpoints (
    partition INTEGER NOT NULL,
    n INTEGER NOT NULL,
    time INTEGER NOT NULL,
    -- set when retention deleted the segment's events; the checkpoint itself is kept
    pruned INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL,
    PRIMARY KEY (partition, n)
  );
`;
const TRAIL_PAGE = 1000;
const LINK_COLUMNS = 'l.partition, l.bus_offset, l.seq, l.prev, l.hash, l.v';
const INSERT_LINK =
  'INSERT OR REPLACE INTO trail_links (ev, partition, bus_offset, seq, prev, hash, v) VALUES (?, ?, ?, ?, ?, ?, ?)';
/** A link read back through LINK_COLUMNS. */
function linkOf(r: Record<string, SQLOutputValue>): TrailLink {
  return {
    ...(r.v === 2 ? { v: 2 as const } : {}),
    partition: Number(r.partition),
    offset: Number(r.bus_offset),
    seq: Number(r.seq),
    prev: r.prev as string,
    hash: r.hash as string,
  };
}
/** The stored document with its link attached, as the event was when it was chained. */
function linkedDoc(r: Record<string, SQLOutputValue>): PipewardenEvent {
  const e = JSON.parse(r.doc as string) as PipewardenEvent;
  e.pipewarden.trail = linkOf(r);
  return e;
}
// --- end trail -----------------------------------------------------------------------------------------

/** One event's free-text row; the values come from ftsValues. */
const INSERT_TEXT =
  'INSERT INTO events_fts (rowid, message, action, actor, repository, dataset, other) VALUES (?, ?, ?, ?, ?, ?, ?)';

type Where = { sql: string[]; params: SQLInputValue[] };

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly #db: DatabaseSync;
  readonly #log: Logger | undefined;
  /** Set only with a retention, so the index role sweeps only then (see Store.sweepRetention). */
  readonly sweepRetention?: (now: Date) => Promise<number>;

  /** `retentionDays`: events older than this are deleted by sweepRetention; absent: kept until deleted. */
  constructor(options: { path: string; log?: Logger; retentionDays?: number }) {
    this.#db = new DatabaseSync(privateFile(options.path)); // 0600: the trail, alerts, token hashes
    this.#log = options.log;
    const { retentionDays } = options;
    if (retentionDays) {
      this.sweepRetention = async (now) =>
        this.deleteEventsBefore(now.getTime() - retentionDays * 86_400_000);
    }
    // pw_ip_in(ip, block): the `ip` filter, with the same address and CIDR semantics as Elasticsearch.
    const matchers = new Map<string, (ip: string | undefined) => boolean>();
    this.#db.function('pw_ip_in', { deterministic: true }, (ip, block) => {
      if (typeof ip !== 'string' || typeof block !== 'string') return 0;
      let m = matchers.get(block);
      if (!m) {
        if (matchers.size > 100) matchers.clear();
        m = ipMatcher([block]);
        matchers.set(block, m);
      }
      return m(ip) ? 1 : 0;
    });
  }

  async init(): Promise<void> {
    // WAL lets the API read while the index consumer writes; synchronous stays FULL so a commit survives power loss.
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;');
    this.#migrateFts();
    this.#db.exec(SCHEMA);
    this.#db.exec(TRAIL_SCHEMA);
    this.#migrateTrailLinks();
    this.#migrateTokens();
    this.#searchIndexes();
    this.#log?.debug({ store: 'sqlite' }, 'Store ready.');
  }

  /** Files made before trail_links kept each link in its document, ordered by an expression index. */
  #migrateTrailLinks(): void {
    const old = this.#db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'events_trail'").get();
    if (!old) return;
    const t = (f: string) => `json_extract(doc, '$.pipewarden.trail.${f}')`;
    this.#transaction(() => {
      this.#db.exec(
        `INSERT OR IGNORE INTO trail_links (ev, partition, bus_offset, seq, prev, hash, v)
         SELECT rowid, ${t('partition')}, ${t('offset')}, ${t('seq')}, ${t('prev')}, ${t('hash')}, ${t('v')}
         FROM events WHERE ${t('partition')} IS NOT NULL`,
      );
      this.#db.exec('DROP INDEX events_trail');
    });
    this.#log?.info({ store: 'sqlite' }, 'Moved the trail links to their own table (one-time migration).');
  }

  /**
   * Files made before retention existed have a contentless FTS index that cannot drop rows. Rebuild it
   * once, with contentless_delete, from the stored documents (same text as indexEvents writes).
   */
  #migrateFts(): void {
    const row = this.#db.prepare("SELECT sql FROM sqlite_master WHERE name = 'events_fts'").get() as
      | { sql: string }
      | undefined;
    if (!row || /contentless_delete/i.test(row.sql)) return;
    const started = Date.now();
    this.#transaction(() => {
      this.#db.exec('DROP TABLE events_fts');
      this.#db.exec(SCHEMA);
      const insertText = this.#db.prepare(INSERT_TEXT);
      for (const r of this.#db.prepare('SELECT rowid, doc FROM events').iterate() as Iterable<{
        rowid: number;
        doc: string;
      }>) {
        insertText.run(r.rowid, ...ftsValues(JSON.parse(r.doc) as PipewardenEvent));
      }
    });
    this.#log?.info(
      { store: 'sqlite', ms: Date.now() - started },
      'Rebuilt the free-text index (one-time migration).',
    );
  }

  /**
   * Deletes events older than `before` (epoch ms) with their free-text rows, in chunks so the write lock
   * is never held long. Returns how many. Alerts, tokens and state are kept.
   */
  deleteEventsBefore(before: number): number {
    // Chained events go only as whole checkpoint segments (deleteTrailSegmentsBefore), never one by one.
    return this.#deleteUnchainedBefore(before) + this.#deleteTrailSegmentsBefore(before);
  }

  #deleteUnchainedBefore(before: number): number {
    const ids = this.#db.prepare(
      'SELECT rowid FROM events WHERE ts < ? AND NOT EXISTS (SELECT 1 FROM trail_links WHERE ev = events.rowid) LIMIT 1000',
    );
    const dropText = this.#db.prepare('DELETE FROM events_fts WHERE rowid = ?');
    const dropEvent = this.#db.prepare('DELETE FROM events WHERE rowid = ?');
    let total = 0;
    for (;;) {
      const rows = ids.all(before) as Array<{ rowid: number }>;
      if (rows.length === 0) return total;
      this.#transaction(() => {
        for (const { rowid } of rows) {
          dropText.run(rowid);
          dropEvent.run(rowid);
        }
      });
      total += rows.length;
    }
  }

  // No IndexOptions: the events table's primary key makes every redelivery a no-op, however late.
  async indexEvents(events: PipewardenEvent[]): Promise<void> {
    // Validate the whole batch first so a bad event leaves nothing half-written.
    const rows = events.map((e) => ({ e, ts: parseTime(e['@timestamp'], `event ${e.event.id} @timestamp`) }));
    const insert = this.#db.prepare(
      `INSERT INTO events (id, ts, source, kind, actor, repository, action, outcome, source_ip, doc)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    );
    const insertText = this.#db.prepare(INSERT_TEXT);
    const insertLink = this.#db.prepare(INSERT_LINK);
    this.#transaction(() => {
      for (const { e, ts } of rows) {
        const p = e.pipewarden;
        // trail: a chained event's document is the text its link hashed; the link goes to trail_links.
        const l = p.trail;
        const r = insert.run(
          e.event.id,
          ts,
          p.source,
          p.kind,
          e.user?.name ?? null,
          p.repository ?? null,
          e.event.action,
          e.event.outcome,
          e.source?.ip ?? null,
          l ? unlinkedText(e) : JSON.stringify(e),
        );
        // Only a new row gets its text indexed: a redelivered event must not add a second FTS row.
        if (r.changes === 1) {
          insertText.run(r.lastInsertRowid, ...ftsValues(e));
          if (l) insertLink.run(r.lastInsertRowid, l.partition, l.offset, l.seq, l.prev, l.hash, l.v ?? null);
        }
      }
    });
  }

  async searchEvents(query: EventQuery): Promise<Page<PipewardenEvent>> {
    const where: Where = { sql: [], params: [] };
    addTimeRange(where, query);
    addEquals(where, 'source', query.source);
    addEquals(where, 'kind', query.kind);
    addEquals(where, 'actor', query.actor);
    addEquals(where, 'repository', query.repository);
    addEquals(where, 'action', query.action);
    if (query.ip !== undefined) {
      where.sql.push('pw_ip_in(source_ip, ?) = 1');
      where.params.push(query.ip);
    }
    const match = ftsQuery(query.q);
    if (match !== undefined) {
      where.sql.push('rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)');
      where.params.push(match);
    }
    return this.#page<PipewardenEvent>('events', where, query);
  }

  async getEvent(id: string): Promise<PipewardenEvent | undefined> {
    const row = this.#db
      .prepare(
        `SELECT e.doc, ${LINK_COLUMNS} FROM events e LEFT JOIN trail_links l ON l.ev = e.rowid WHERE e.id = ?`,
      )
      .get(id);
    if (!row) return undefined;
    return row.hash === null ? (JSON.parse(row.doc as string) as PipewardenEvent) : linkedDoc(row);
  }

  async putAlert(alert: AlertRecord): Promise<void> {
    const ts = parseTime(alert['@timestamp'], `alert ${alert.id} @timestamp`);
    this.#db
      .prepare(
        `INSERT INTO alerts (id, ts, detector, severity, status, doc) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET ts = excluded.ts, detector = excluded.detector,
           severity = excluded.severity, status = excluded.status, doc = excluded.doc`,
      )
      .run(alert.id, ts, alert.detector, alert.severity, alert.status, JSON.stringify(alert));
  }

  async getAlert(id: string): Promise<AlertRecord | undefined> {
    const row = this.#db.prepare('SELECT doc FROM alerts WHERE id = ?').get(id);
    return row ? (JSON.parse(row.doc as string) as AlertRecord) : undefined;
  }

  async searchAlerts(query: AlertQuery): Promise<Page<AlertRecord>> {
    const where: Where = { sql: [], params: [] };
    addTimeRange(where, query);
    addEquals(where, 'detector', query.detector);
    addEquals(where, 'severity', query.severity);
    addEquals(where, 'status', query.status);
    return this.#page<AlertRecord>('alerts', where, query);
  }

  async putToken(token: TokenRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO tokens (id, name, hash, created_at, role, expires_at, revoked_at, last_used_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, hash = excluded.hash, created_at = excluded.created_at,
           role = excluded.role, expires_at = excluded.expires_at, revoked_at = excluded.revoked_at,
           last_used_at = excluded.last_used_at`,
      )
      .run(
        token.id,
        token.name,
        token.hash,
        token.createdAt,
        token.role ?? null,
        token.expiresAt ?? null,
        token.revokedAt ?? null,
        token.lastUsedAt ?? null,
      );
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    const row = this.#db.prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE id = ?`).get(id);
    return row ? tokenFromRow(row) : undefined;
  }

  // --- console: token roles, expiry and revocation (the columns come from #migrateTokens) ---

  async listTokens(): Promise<TokenRecord[]> {
    return this.#db
      .prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id`)
      .all()
      .map(tokenFromRow);
  }

  /** Token tables made before roles lack the role, expiry, revocation and last-use columns: add them. */
  #migrateTokens(): void {
    const have = new Set(
      (this.#db.prepare('PRAGMA table_info(tokens)').all() as Array<{ name: string }>).map((c) => c.name),
    );
    for (const column of ['role', 'expires_at', 'revoked_at', 'last_used_at']) {
      if (!have.has(column)) this.#db.exec(`ALTER TABLE tokens ADD COLUMN ${column} TEXT`);
    }
  }

  // --- end console: tokens ---

  // --- console search: the query AST compiled to SQL + FTS5 (src/search/compile-sqlite.ts) ---

  async queryEvents(
    query: QueryNode,
    page: { size?: number; cursor?: string },
  ): Promise<Page<PipewardenEvent>> {
    this.#keepStatistics();
    const { sql, params } = toSqlite(query);
    return this.#page<PipewardenEvent>('events', { sql: [sql], params }, page);
  }

  async eventHistogram(query: QueryNode, range: HistogramRange): Promise<HistogramBucket[]> {
    const { sql, params } = toSqlite(query);
    const rows = this.#db
      .prepare(
        `SELECT (ts / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS b, count(*) AS n FROM events WHERE ts >= ? AND ts < ? AND ${sql} GROUP BY b`,
      )
      .all(range.interval, range.interval, range.from, range.to, ...params) as Array<{
      b: number;
      n: number;
    }>;
    return denseBuckets(range, new Map(rows.map((r) => [Number(r.b), Number(r.n)])));
  }

  #statisticsAt = 0;

  /**
   * Without statistics the planner cannot tell `source` (a handful of values) from `actor` (thousands) and
   * may walk the wrong index (source:x AND actor:y: 600 ms instead of 5 at 200k events). A sampled
   * ANALYZE (analysis_limit) at most every 10 minutes keeps them current at little cost.
   */
  #keepStatistics(): void {
    const now = Date.now();
    if (now - this.#statisticsAt < 600_000) return;
    this.#statisticsAt = now;
    this.#db.exec('PRAGMA analysis_limit = 1000; ANALYZE events;');
  }

  /** Case-insensitive lookups (actor:Alice finds alice) use these instead of scanning. */
  #searchIndexes(): void {
    this.#db.exec(`
      CREATE INDEX IF NOT EXISTS events_actor_ci ON events (actor COLLATE NOCASE, ts DESC, id DESC);
      CREATE INDEX IF NOT EXISTS events_repository_ci ON events (repository COLLATE NOCASE, ts DESC, id DESC);
      CREATE INDEX IF NOT EXISTS events_source_ci ON events (source COLLATE NOCASE, ts DESC, id DESC);
    `);
  }

  // --- end console search ---

  async putState(key: string, value: string): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      )
      .run(key, value, Date.now());
  }

  async getState(key: string): Promise<string | undefined> {
    const row = this.#db.prepare('SELECT value FROM state WHERE key = ?').get(key);
    return row ? (row.value as string) : undefined;
  }

  // --- trail (src/trail) -------------------------------------------------------------------------------
  async trailExisting(ids: string[]): Promise<Map<string, TrailLink | null>> {
    const out = new Map<string, TrailLink | null>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const rows = this.#db
        .prepare(
          `SELECT e.id, ${LINK_COLUMNS} FROM events e LEFT JOIN trail_links l ON l.ev = e.rowid
           WHERE e.id IN (${chunk.map(() => '?').join(',')})`,
        )
        .all(...chunk);
      for (const r of rows) out.set(r.id as string, r.hash === null ? null : linkOf(r));
    }
    return out;
  }

  async trailLinkBefore(partition: number, offset: number): Promise<PipewardenEvent | undefined> {
    const row = this.#db
      .prepare(
        `SELECT e.doc, ${LINK_COLUMNS} FROM trail_links l JOIN events e ON e.rowid = l.ev
         WHERE l.partition = ? AND l.bus_offset < ? ORDER BY l.bus_offset DESC, l.ev DESC LIMIT 1`,
      )
      .get(partition, offset);
    return row ? linkedDoc(row) : undefined;
  }

  async putTrailCheckpoint(c: Checkpoint): Promise<void> {
    this.#db
      .prepare(
        'INSERT INTO trail_checkpoints (partition, n, time, doc) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      )
      .run(c.partition, c.n, parseTime(c.time, `checkpoint ${c.partition}-${c.n} time`), JSON.stringify(c));
  }

  async trailCheckpoints(partition?: number): Promise<Checkpoint[]> {
    const rows =
      partition === undefined
        ? this.#db.prepare('SELECT doc FROM trail_checkpoints ORDER BY partition, n').all()
        : this.#db.prepare('SELECT doc FROM trail_checkpoints WHERE partition = ? ORDER BY n').all(partition);
    return rows.map((r) => JSON.parse(r.doc as string) as Checkpoint);
  }

  async trailPartitions(): Promise<number[]> {
    const rows = this.#db.prepare('SELECT DISTINCT partition AS p FROM trail_links').all();
    return rows.map((r) => Number(r.p));
  }

  async *trailChain(partition: number, fromOffset: number): AsyncIterable<PipewardenEvent> {
    const page = this.#db.prepare(
      `SELECT l.ev, e.doc, ${LINK_COLUMNS} FROM trail_links l JOIN events e ON e.rowid = l.ev
       WHERE l.partition = ? AND (l.bus_offset, l.ev) > (?, ?) ORDER BY l.bus_offset, l.ev LIMIT ?`,
    );
    let after: [number, number] = [fromOffset, -1];
    for (;;) {
      const rows = page.all(partition, after[0], after[1], TRAIL_PAGE);
      for (const r of rows) yield linkedDoc(r);
      if (rows.length < TRAIL_PAGE) return;
      const last = rows.at(-1)!;
      after = [Number(last.bus_offset), Number(last.ev)];
    }
  }

  async *trailUnchained(since: string): AsyncIterable<{ id: string; ingested: string }> {
    const page = this.#db.prepare(
      `SELECT rowid, id, json_extract(doc, '$.event.ingested') AS ingested FROM events
       WHERE rowid > ? AND NOT EXISTS (SELECT 1 FROM trail_links WHERE ev = events.rowid)
         AND json_extract(doc, '$.event.ingested') >= ? ORDER BY rowid LIMIT ?`,
    );
    let after = 0;
    for (;;) {
      const rows = page.all(after, since, TRAIL_PAGE);
      for (const r of rows) yield { id: r.id as string, ingested: String(r.ingested) };
      if (rows.length < TRAIL_PAGE) return;
      after = Number(rows.at(-1)!.rowid);
    }
  }

  async traceEvents(field: TraceField, values: string[], limit: number): Promise<PipewardenEvent[]> {
    if (!TRACE_FIELDS.includes(field) || values.length === 0) return [];
    const rows = this.#db
      .prepare(
        `SELECT doc FROM events WHERE json_extract(doc, '$.pipewarden.${field}') IN (${values.map(() => '?').join(', ')})
         ORDER BY ts, id LIMIT ?`,
      )
      .all(...values, limit);
    return rows.map((r) => JSON.parse(r.doc as string) as PipewardenEvent);
  }

  /** Deletes the events of every checkpoint segment signed before `before` (ms), whole; keeps the checkpoints. */
  #deleteTrailSegmentsBefore(before: number): number {
    const due = this.#db
      .prepare(
        'SELECT partition, n, doc FROM trail_checkpoints WHERE pruned = 0 AND time < ? ORDER BY partition, n',
      )
      .all(before);
    const ids = this.#db.prepare(
      'SELECT ev AS rowid FROM trail_links WHERE partition = ? AND bus_offset BETWEEN ? AND ? LIMIT 1000',
    );
    const dropText = this.#db.prepare('DELETE FROM events_fts WHERE rowid = ?');
    const dropEvent = this.#db.prepare('DELETE FROM events WHERE rowid = ?');
    const dropLink = this.#db.prepare('DELETE FROM trail_links WHERE ev = ?');
    const mark = this.#db.prepare('UPDATE trail_checkpoints SET pruned = 1 WHERE partition = ? AND n = ?');
    let total = 0;
    for (const row of due) {
      const c = JSON.parse(row.doc as string) as Checkpoint;
      for (;;) {
        const rows = ids.all(c.partition, c.fromOffset, c.toOffset) as Array<{ rowid: number }>;
        if (rows.length === 0) break;
        this.#transaction(() => {
          for (const { rowid } of rows) {
            dropText.run(rowid);
            dropEvent.run(rowid);
            dropLink.run(rowid);
          }
        });
        total += rows.length;
      }
      mark.run(c.partition, c.n);
    }
    return total;
  }
  // --- end trail ---------------------------------------------------------------------------------------

  async refresh(): Promise<void> {
    // A committed write is already visible to every reader.
  }

  async ping(): Promise<void> {
    this.#db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }

  /** Keyset pagination on (ts desc, id desc); `total` counts the filter without the cursor. */
  #page<T>(table: 'events' | 'alerts', where: Where, query: { size?: number; cursor?: string }): Page<T> {
    const size = pageSize(query.size);
    const filter = where.sql.length > 0 ? `WHERE ${where.sql.join(' AND ')}` : '';
    const count = this.#db.prepare(`SELECT count(*) AS n FROM ${table} ${filter}`).get(...where.params);
    const page: Where = { sql: [...where.sql], params: [...where.params] };
    if (query.cursor !== undefined) {
      const [ts, id] = decodeCursor(query.cursor);
      page.sql.push('(ts, id) < (?, ?)');
      page.params.push(ts, id);
    }
    const pageFilter = page.sql.length > 0 ? `WHERE ${page.sql.join(' AND ')}` : '';
    // One row more than the page tells whether a next page exists without a second query.
    const rows = this.#db
      .prepare(`SELECT id, ts, doc FROM ${table} ${pageFilter} ORDER BY ts DESC, id DESC LIMIT ?`)
      .all(...page.params, size + 1);
    const items = rows.slice(0, size);
    const last = items.at(-1);
    return {
      total: Number(count?.n ?? 0),
      items: items.map((r) => JSON.parse(r.doc as string) as T),
      ...(rows.length > size && last ? { next: encodeCursor([last.ts as number, last.id as string]) } : {}),
    };
  }

  #transaction(fn: () => void): void {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      fn();
      this.#db.exec('COMMIT');
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
  }
}

const TOKEN_COLUMNS = 'id, name, hash, created_at, role, expires_at, revoked_at, last_used_at';

function tokenFromRow(row: Record<string, SQLOutputValue>): TokenRecord {
  const record: TokenRecord = {
    id: row.id as string,
    name: row.name as string,
    hash: row.hash as string,
    createdAt: row.created_at as string,
  };
  if (row.role) record.role = row.role as TokenRole;
  if (row.expires_at) record.expiresAt = row.expires_at as string;
  if (row.revoked_at) record.revokedAt = row.revoked_at as string;
  if (row.last_used_at) record.lastUsedAt = row.last_used_at as string;
  return record;
}

/** The FTS columns of an event: message, action, actor, repository, dataset, other (also Elasticsearch's free text). */
export function ftsValues(e: PipewardenEvent): [string, string, string, string, string, string] {
  return [
    e.message ?? '',
    e.event.action,
    e.user?.name ?? '',
    e.pipewarden.repository ?? '',
    e.event.dataset,
    otherText(e),
  ];
}

/** The pipewarden text fields that have no FTS column of their own, searched as one. */
function otherText(e: PipewardenEvent): string {
  const p = e.pipewarden;
  return [
    e.event.provider,
    p.source,
    p.kind,
    e.user?.id,
    e.user?.target?.name,
    ...(e.user?.target?.roles ?? []),
    p.change?.to,
    e.organization?.name,
    e.source?.ip,
    e.user_agent?.original,
    e.url?.original,
    p.branch,
    p.environment,
    p.pipeline,
    p.job,
    p.artifact,
    p.commit,
    p.build_url,
    p.runner?.name,
    p.token?.hashed,
    p.token?.id,
    p.secret?.rule,
    p.secret?.fingerprint,
  ]
    .filter((v) => v !== undefined && v !== '')
    .join('\n');
}

/**
 * User text to an FTS5 query that cannot be a syntax error: each whitespace-separated term becomes a quoted
 * phrase (inner quotes doubled), so `*`, `-`, `:`, `(`, `NEAR` or `AND` are literal; terms are ANDed.
 */
function ftsQuery(q: string | undefined): string | undefined {
  // Control characters (NUL ends FTS5's string parsing) become separators.
  const terms = (q ?? '')
    .replace(/\p{Cc}/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
  if (terms.length === 0) return undefined;
  return terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(' ');
}

function addTimeRange(where: Where, query: { from?: string; to?: string }): void {
  if (query.from !== undefined) {
    where.sql.push('ts >= ?');
    where.params.push(parseTime(query.from, 'from'));
  }
  if (query.to !== undefined) {
    where.sql.push('ts < ?');
    where.params.push(parseTime(query.to, 'to'));
  }
}

function addEquals(where: Where, column: string, value: string | undefined): void {
  if (value === undefined) return;
  where.sql.push(`${column} = ?`);
  where.params.push(value);
}
