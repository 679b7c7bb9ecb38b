// The embedded store: SQLite through node:sqlite, FTS5 for free text. One file on local disk, WAL mode.
import { DatabaseSync, type SQLInputValue, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import type { Silence } from '../alerting/silences.ts';
import { type AlertRecord, SEVERITIES, type Severity, severityRank } from '../alerting/types.ts';
import type { PipewardenEvent } from '../event.ts';
import type { Logger } from '../log.ts';
import { likePattern, toSqlite } from '../search/compile-sqlite.ts';
import type { QueryNode } from '../search/query.ts';
import { unlinkedText, withStoredText } from '../trail/chain.ts';
import type { Checkpoint, TrailLink } from '../trail/types.ts';
import { bufferOf } from '../util/bytes.ts';
import { ipMatcher } from '../util/ip.ts';
import { privateFile } from '../util/private-files.ts';
import { decodeCursor, encodeCursor, pageSize, parseTime } from './paging.ts';
import {
  type AlertQuery,
  denseBuckets,
  type EventQuery,
  type HistogramBucket,
  type HistogramRange,
  type InboxPage,
  type InboxQuery,
  type IndexOptions,
  type Page,
  type SessionRecord,
  type SessionSelector,
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
// The links of one indexed batch of one partition live in one compact row of trail_batches, written in the
// same transaction as the events; each event's document keeps the exact bytes its link hashed. (A row or
// an index entry per event, or an expression index on the link inside the document, cost more than the
// 5 % chaining may add to indexing.) The batch's events have consecutive rowids, ev0..ev1.
const TRAIL_SCHEMA = `
  CREATE TABLE IF NOT EXISTS trail_batches (
    ev0 INTEGER PRIMARY KEY,
    ev1 INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    off0 INTEGER NOT NULL,
    off1 INTEGER NOT NULL,
    -- JSON [[rowid, offset, seq, prev, hash, version], ...] in offset order
    links TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS trail_batches_order ON trail_batches (partition, off0);
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
/** trailAppend found an event already stored (thrown inside its transaction to roll it back). */
const ALREADY_STORED = new Error('An event of the batch is already stored.');
/** One link as trail_batches keeps it. */
type BatchLink = [ev: number, offset: number, seq: number, prev: string, hash: string, v: number | null];
interface Batch {
  ev0: number;
  ev1: number;
  partition: number;
  links: BatchLink[];
  /** The links by rowid, made on first look-up. */
  byEv?: Map<number, BatchLink>;
}
function batchOf(r: Record<string, SQLOutputValue>): Batch {
  return {
    ev0: Number(r.ev0),
    ev1: Number(r.ev1),
    partition: Number(r.partition),
    links: JSON.parse(r.links as string) as BatchLink[],
  };
}
function linkOf(partition: number, b: BatchLink): TrailLink {
  return {
    ...(b[5] === 2 || b[5] === 3 ? { v: b[5] } : {}),
    partition,
    offset: b[1],
    seq: b[2],
    prev: b[3],
    hash: b[4],
  };
}
/** The stored document with its link attached, as the event was when it was chained, and its stored text. */
function linkedDoc(doc: string, partition: number, b: BatchLink): PipewardenEvent {
  const e = JSON.parse(doc) as PipewardenEvent;
  e.pipewarden.trail = linkOf(partition, b);
  return withStoredText(e, doc);
}
// --- end trail -----------------------------------------------------------------------------------------

/** One event's free-text row; the values come from ftsValues. */
const INSERT_BATCH =
  'INSERT OR REPLACE INTO trail_batches (ev0, ev1, partition, off0, off1, links) VALUES (?, ?, ?, ?, ?, ?)';
const INSERT_TEXT =
  'INSERT INTO events_fts (rowid, message, action, actor, repository, dataset, other) VALUES (?, ?, ?, ?, ?, ?, ?)';

type Where = { sql: string[]; params: SQLInputValue[] };

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  /** trail: a chained event's document is the text given (unlinkedText), byte for byte, and read back so. */
  trailKeptText(value: string | Uint8Array): string | undefined {
    return sourceText(value);
  }
  readonly #db: DatabaseSync;
  readonly #log: Logger | undefined;
  /** trail: #batchHolding's statements, prepared once. */
  #holding: { range: StatementSync; batch: StatementSync } | undefined;
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
    this.#consoleSchema();
    this.#log?.debug({ store: 'sqlite' }, 'Store ready.');
  }

  /** Files made before trail_batches kept each link in its document, ordered by an expression index. */
  #migrateTrailLinks(): void {
    const old = this.#db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'events_trail'").get();
    if (!old) return;
    const t = (f: string) => `json_extract(doc, '$.pipewarden.trail.${f}')`;
    const rows = this.#db
      .prepare(
        `SELECT rowid, ${t('partition')} AS p, ${t('offset')} AS o, ${t('seq')} AS seq, ${t('prev')} AS prev,
           ${t('hash')} AS hash, ${t('v')} AS v
         FROM events WHERE ${t('partition')} IS NOT NULL ORDER BY p, o, rowid`,
      )
      .iterate();
    const insert = this.#db.prepare(INSERT_BATCH);
    this.#transaction(() => {
      // One pseudo-batch per event: their rowids need not follow on.
      for (const r of rows) {
        const l: BatchLink = [
          Number(r.rowid),
          Number(r.o),
          Number(r.seq),
          String(r.prev),
          String(r.hash),
          null,
        ];
        insert.run(l[0], l[0], Number(r.p), l[1], l[1], JSON.stringify([l]));
      }
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
      'SELECT rowid FROM events WHERE ts < ? AND rowid > ? ORDER BY rowid LIMIT 1000',
    );
    const dropText = this.#db.prepare('DELETE FROM events_fts WHERE rowid = ?');
    const dropEvent = this.#db.prepare('DELETE FROM events WHERE rowid = ?');
    let total = 0;
    let after = 0;
    const cache = new Map<number, Batch>();
    for (;;) {
      const rows = ids.all(before, after) as Array<{ rowid: number }>;
      if (rows.length === 0) return total;
      after = rows.at(-1)!.rowid;
      if (cache.size > 100) cache.clear();
      const unchained = rows.filter(({ rowid }) => !this.#batchHolding(rowid, cache));
      this.#transaction(() => {
        for (const { rowid } of unchained) {
          dropText.run(rowid);
          dropEvent.run(rowid);
        }
      });
      total += unchained.length;
    }
  }

  // The events table's primary key makes every redelivery a no-op, however late (mayBeRedelivered is not
  // needed). sourceTexts: an event's document is the text it was read from, not serialised again (its raw
  // payload may not even be parsed yet: bus/messages.ts readEvent).
  async indexEvents(events: PipewardenEvent[], options: IndexOptions = {}): Promise<void> {
    this.#writeEvents(events, undefined, options.sourceTexts);
  }

  /**
   * indexEvents' transaction. trail: `append` is trailAppend's: an event already stored throws
   * ALREADY_STORED (rolling back everything), and the checkpoint is written with the events.
   */
  #writeEvents(
    events: PipewardenEvent[],
    append?: { checkpoint: Checkpoint | undefined },
    sources?: IndexOptions['sourceTexts'],
  ): void {
    // Validate the whole batch first so a bad event leaves nothing half-written.
    const rows = events.map((e) => ({ e, ts: parseTime(e['@timestamp'], `event ${e.event.id} @timestamp`) }));
    const insert = this.#db.prepare(
      `INSERT INTO events (id, ts, source, kind, actor, repository, action, outcome, source_ip, doc)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    );
    const insertText = this.#db.prepare(INSERT_TEXT);
    // trail: the chained events' links, per partition, for one trail_batches row each.
    const links = new Map<number, BatchLink[]>();
    this.#transaction(() => {
      for (const { e, ts } of rows) {
        const p = e.pipewarden;
        // trail: a chained event's document is the text its link hashed; its link goes to trail_batches.
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
          l ? unlinkedText(e) : (sourceText(sources?.get(e)) ?? JSON.stringify(e)),
        );
        // Only a new row gets its text indexed: a redelivered event must not add a second FTS row.
        if (r.changes === 1) {
          insertText.run(r.lastInsertRowid, ...ftsValues(e));
          if (l) {
            const list = links.get(l.partition) ?? [];
            if (list.length === 0) links.set(l.partition, list);
            list.push([Number(r.lastInsertRowid), l.offset, l.seq, l.prev, l.hash, l.v ?? null]);
          }
        } else if (append) throw ALREADY_STORED;
      }
      if (append?.checkpoint) this.#putCheckpoint(append.checkpoint);
      if (links.size > 0) {
        const insertBatch = this.#db.prepare(INSERT_BATCH);
        for (const [partition, list] of links) {
          list.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
          const evs = list.map((l) => l[0]);
          const ev0 = Math.min(...evs);
          insertBatch.run(
            ev0,
            Math.max(...evs),
            partition,
            list[0]![1],
            list.at(-1)![1],
            JSON.stringify(list),
          );
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
    const row = this.#db.prepare('SELECT rowid, doc FROM events WHERE id = ?').get(id);
    if (!row) return undefined;
    const held = this.#batchHolding(Number(row.rowid));
    return held
      ? linkedDoc(row.doc as string, held.batch.partition, held.link)
      : JSON.parse(row.doc as string);
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

  async *exportEvents(query: QueryNode): AsyncIterable<string[]> {
    this.#keepStatistics();
    const { sql, params } = toSqlite(query);
    const cols = 'SELECT ts, id, doc FROM events WHERE';
    const order = 'ORDER BY ts DESC, id DESC LIMIT ?';
    const first = this.#db.prepare(`${cols} ${sql} ${order}`);
    const next = this.#db.prepare(`${cols} (ts, id) < (?, ?) AND ${sql} ${order}`);
    // Rows as arrays: no object per row; the document text goes out as stored (already JSON).
    first.setReturnArrays(true);
    next.setReturnArrays(true);
    let rows = first.all(...params, EXPORT_BATCH) as unknown as Array<[number, string, string]>;
    while (rows.length > 0) {
      yield rows.map((r) => r[2]);
      if (rows.length < EXPORT_BATCH) return;
      const [ts, id] = rows.at(-1)!;
      rows = next.all(ts, id, ...params, EXPORT_BATCH) as unknown as Array<[number, string, string]>;
    }
  }

  // --- end console search ---

  // --- console: sessions and the inbox ---

  /**
   * The sessions table, and the alert fields the inbox filters on as virtual generated columns (read from
   * the stored document, so putAlert and existing rows need nothing) with indexes of their own.
   */
  #consoleSchema(): void {
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY, -- hex SHA-256 of the session id; the id itself is never stored
        token_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS sessions_token ON sessions (token_id);
      CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
    `);
    const have = new Set(
      (this.#db.prepare('PRAGMA table_xinfo(alerts)').all() as Array<{ name: string }>).map((c) => c.name),
    );
    for (const [column, expr] of INBOX_COLUMNS) {
      if (!have.has(column))
        this.#db.exec(
          `ALTER TABLE alerts ADD COLUMN ${column} TEXT COLLATE NOCASE GENERATED ALWAYS AS (${expr}) VIRTUAL`,
        );
      this.#db.exec(`CREATE INDEX IF NOT EXISTS alerts_${column} ON alerts (${column}, ts DESC, id DESC)`);
    }
  }

  async putSession(session: SessionRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO sessions (id, token_id, created_at, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET token_id = excluded.token_id, created_at = excluded.created_at,
           expires_at = excluded.expires_at`,
      )
      .run(session.id, session.tokenId, session.createdAt, parseTime(session.expiresAt, 'expiresAt'));
  }

  async touchSession(id: string, expiresAt: string): Promise<boolean> {
    const res = this.#db
      .prepare('UPDATE sessions SET expires_at = ? WHERE id = ?')
      .run(parseTime(expiresAt, 'expiresAt'), id);
    return Number(res.changes) > 0;
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const row = this.#db
      .prepare('SELECT id, token_id, created_at, expires_at FROM sessions WHERE id = ?')
      .get(id);
    if (!row) return undefined;
    return {
      id: row.id as string,
      tokenId: row.token_id as string,
      createdAt: row.created_at as string,
      expiresAt: new Date(Number(row.expires_at)).toISOString(),
    };
  }

  async deleteSessions(which: SessionSelector): Promise<number> {
    const [where, value] =
      'id' in which
        ? ['id = ?', which.id]
        : 'tokenId' in which
          ? ['token_id = ?', which.tokenId]
          : ['expires_at < ?', parseTime(which.expiredBefore, 'expiredBefore')];
    return Number(this.#db.prepare(`DELETE FROM sessions WHERE ${where}`).run(value).changes);
  }

  async inboxAlerts(query: InboxQuery): Promise<InboxPage> {
    const where: Where = { sql: [], params: [] };
    addTimeRange(where, query);
    addEquals(where, 'detector', query.detector);
    addEquals(where, 'source', query.source); // the column is NOCASE
    addEquals(where, 'actor', query.actor);
    if (query.repository !== undefined) {
      const want = query.repository.replace(/\/\*$/, '');
      if (want.includes('/')) addEquals(where, 'repository', want);
      else {
        where.sql.push("repository LIKE ? ESCAPE '\\'");
        where.params.push(`${likePattern(want)}/%`);
      }
    }
    if (query.status === 'silenced') addEquals(where, 'status', 'silenced');
    else if (query.status !== undefined) {
      where.sql.push("status != 'silenced'");
      addEquals(where, 'triage_state', query.status);
    }
    if (query.minSeverity !== undefined) {
      const at = severityRank(query.minSeverity);
      const wanted = SEVERITIES.filter((s) => severityRank(s) >= at);
      where.sql.push(`severity IN (${wanted.map(() => '?').join(', ')})`);
      where.params.push(...wanted);
    }
    const filter = where.sql.length > 0 ? `WHERE ${where.sql.join(' AND ')}` : '';
    const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
    for (const r of this.#db
      .prepare(`SELECT severity, count(*) AS n FROM alerts ${filter} GROUP BY severity`)
      .all(...where.params)) {
      if (SEVERITIES.includes(r.severity as Severity)) counts[r.severity as Severity] = Number(r.n);
    }
    const page = this.#keysetPage<AlertRecord>('alerts', where, query);
    return { ...page, total: Object.values(counts).reduce((a, b) => a + b, 0), counts };
  }

  // --- end console: sessions and the inbox ---

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

  // --- silences (src/alerting/silences.ts): a row each; the table is made on first use ----------------
  #silencesReady = false;
  #silences(): DatabaseSync {
    if (!this.#silencesReady) {
      this.#db.exec(`CREATE TABLE IF NOT EXISTS silences (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        ends_at TEXT NOT NULL,
        doc TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS silences_ends ON silences (ends_at);`);
      this.#silencesReady = true;
    }
    return this.#db;
  }

  async putSilence(silence: Silence): Promise<void> {
    this.#silences()
      .prepare(
        `INSERT INTO silences (id, created_at, ends_at, doc) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET ends_at = excluded.ends_at, doc = excluded.doc`,
      )
      .run(silence.id, silence.createdAt, silence.endsAt, JSON.stringify(silence));
  }

  async getSilence(id: string): Promise<Silence | undefined> {
    const row = this.#silences().prepare('SELECT doc FROM silences WHERE id = ?').get(id);
    return row ? (JSON.parse(row.doc as string) as Silence) : undefined;
  }

  async listSilences(endedAfter: string): Promise<Silence[]> {
    return this.#silences()
      .prepare('SELECT doc FROM silences WHERE ends_at > ? ORDER BY created_at, id LIMIT 10000')
      .all(endedAfter)
      .map((r) => JSON.parse(r.doc as string) as Silence);
  }
  // --- end silences ------------------------------------------------------------------------------------

  // --- trail (src/trail) -------------------------------------------------------------------------------
  /** The batch whose links include this event's rowid, and that link. */
  #batchHolding(rowid: number, cache?: Map<number, Batch>): { batch: Batch; link: BatchLink } | undefined {
    // The batch's range first (two integers); its links (a large text) only when not cached.
    this.#holding ??= {
      range: this.#db.prepare('SELECT ev0, ev1 FROM trail_batches WHERE ev0 <= ? ORDER BY ev0 DESC LIMIT 1'),
      batch: this.#db.prepare('SELECT ev0, ev1, partition, links FROM trail_batches WHERE ev0 = ?'),
    };
    const r = this.#holding.range.get(rowid);
    if (!r || Number(r.ev1) < rowid) return undefined;
    const ev0 = Number(r.ev0);
    let batch = cache?.get(ev0);
    if (!batch) {
      batch = batchOf(this.#holding.batch.get(ev0)!);
      cache?.set(ev0, batch);
    }
    batch.byEv ??= new Map(batch.links.map((l) => [l[0], l]));
    const link = batch.byEv.get(rowid);
    return link ? { batch, link } : undefined;
  }

  async trailExisting(ids: string[]): Promise<Map<string, TrailLink | null>> {
    const out = new Map<string, TrailLink | null>();
    const cache = new Map<number, Batch>();
    // One statement for the whole batch (its ids as one JSON parameter); usually nothing is found.
    const rows = this.#db
      .prepare('SELECT e.rowid, e.id FROM json_each(?) j JOIN events e ON e.id = j.value')
      .all(JSON.stringify(ids));
    for (const r of rows) {
      const held = this.#batchHolding(Number(r.rowid), cache);
      out.set(r.id as string, held ? linkOf(held.batch.partition, held.link) : null);
    }
    return out;
  }

  async trailLinkBefore(partition: number, offset: number): Promise<PipewardenEvent | undefined> {
    const batches = this.#db.prepare(
      'SELECT ev0, ev1, partition, links FROM trail_batches WHERE partition = ? AND off0 < ? ORDER BY off0 DESC',
    );
    const doc = this.#db.prepare('SELECT doc FROM events WHERE rowid = ?');
    // Newest first; an event deleted behind our back is passed over (verify reports it).
    for (const r of batches.iterate(partition, offset)) {
      const b = batchOf(r);
      const before = b.links.filter((l) => l[1] < offset).sort((x, y) => y[1] - x[1] || y[0] - x[0]);
      for (const l of before) {
        const d = doc.get(l[0]);
        if (d) return linkedDoc(d.doc as string, partition, l);
      }
    }
    return undefined;
  }

  async trailAppend(events: PipewardenEvent[], checkpoint?: Checkpoint): Promise<boolean> {
    try {
      this.#writeEvents(events, { checkpoint });
      return true;
    } catch (err) {
      if (err === ALREADY_STORED) return false;
      throw err;
    }
  }

  async putTrailCheckpoint(c: Checkpoint): Promise<void> {
    this.#putCheckpoint(c);
  }

  #putCheckpoint(c: Checkpoint): void {
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
    const rows = this.#db.prepare('SELECT DISTINCT partition AS p FROM trail_batches').all();
    return rows.map((r) => Number(r.p));
  }

  async *trailChain(partition: number, fromOffset: number): AsyncIterable<PipewardenEvent> {
    // Batches by first offset; their links merged by (offset, rowid): a link of a later batch can sort
    // before one of an earlier batch only if it is below that later batch's first offset.
    const batches = this.#db.prepare(
      `SELECT ev0, ev1, partition, off0, links FROM trail_batches WHERE partition = ? AND off1 >= ? AND (off0, ev0) > (?, ?)
       ORDER BY off0, ev0 LIMIT ?`,
    );
    const docs = this.#db.prepare('SELECT rowid, doc FROM events WHERE rowid BETWEEN ? AND ?');
    let buffer: BatchLink[] = [];
    /** Yields the buffered links below `upTo`, in order, with their documents (a deleted one is skipped). */
    const emit = function* (upTo: number): Generator<PipewardenEvent> {
      const ready = buffer.filter((l) => l[1] < upTo).sort((x, y) => x[1] - y[1] || x[0] - y[0]);
      buffer = buffer.filter((l) => l[1] >= upTo);
      if (ready.length === 0) return;
      const evs = ready.map((l) => l[0]);
      const text = new Map<number, string>();
      for (const r of docs.all(Math.min(...evs), Math.max(...evs)))
        text.set(Number(r.rowid), r.doc as string);
      for (const l of ready) {
        const d = text.get(l[0]);
        if (d !== undefined) yield linkedDoc(d, partition, l);
      }
    };
    let after: [number, number] = [Number.MIN_SAFE_INTEGER, 0];
    for (;;) {
      const rows = batches.all(partition, fromOffset, after[0], after[1], TRAIL_PAGE / 10);
      for (const r of rows) {
        const b = batchOf(r);
        const off0 = Number(r.off0);
        yield* emit(off0);
        for (const l of b.links) if (l[1] >= fromOffset) buffer.push(l);
        after = [off0, b.ev0];
      }
      if (rows.length < TRAIL_PAGE / 10) break;
    }
    yield* emit(Number.POSITIVE_INFINITY);
  }

  async *trailUnchained(since: string): AsyncIterable<{ id: string; ingested: string }> {
    const page = this.#db.prepare(
      `SELECT rowid, id, json_extract(doc, '$.event.ingested') AS ingested FROM events
       WHERE rowid > ? AND json_extract(doc, '$.event.ingested') >= ? ORDER BY rowid LIMIT ?`,
    );
    let after = 0;
    const cache = new Map<number, Batch>();
    for (;;) {
      const rows = page.all(after, since, TRAIL_PAGE);
      for (const r of rows) {
        if (!this.#batchHolding(Number(r.rowid), cache))
          yield { id: r.id as string, ingested: String(r.ingested) };
      }
      if (rows.length < TRAIL_PAGE) return;
      after = Number(rows.at(-1)!.rowid);
      if (cache.size > 100) cache.clear();
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
    const batches = this.#db.prepare(
      'SELECT ev0, ev1, partition, links FROM trail_batches WHERE partition = ? AND off0 <= ? AND off1 >= ?',
    );
    const dropText = this.#db.prepare('DELETE FROM events_fts WHERE rowid = ?');
    const dropEvent = this.#db.prepare('DELETE FROM events WHERE rowid = ?');
    const dropBatch = this.#db.prepare('DELETE FROM trail_batches WHERE ev0 = ?');
    const keepLinks = this.#db.prepare(
      'UPDATE trail_batches SET links = ?, off0 = ?, off1 = ? WHERE ev0 = ?',
    );
    const mark = this.#db.prepare('UPDATE trail_checkpoints SET pruned = 1 WHERE partition = ? AND n = ?');
    let total = 0;
    for (const row of due) {
      const c = JSON.parse(row.doc as string) as Checkpoint;
      for (const r of batches.all(c.partition, c.toOffset, c.fromOffset)) {
        const b = batchOf(r);
        const inside = (l: BatchLink) => l[1] >= c.fromOffset && l[1] <= c.toOffset;
        const gone = b.links.filter(inside);
        const kept = b.links.filter((l) => !inside(l));
        // One transaction per batch: the write lock is never held long.
        this.#transaction(() => {
          for (const l of gone) {
            dropText.run(l[0]);
            total += Number(dropEvent.run(l[0]).changes);
          }
          if (kept.length === 0) dropBatch.run(b.ev0);
          else keepLinks.run(JSON.stringify(kept), kept[0]![1], kept.at(-1)![1], b.ev0);
        });
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
    const filter = where.sql.length > 0 ? `WHERE ${where.sql.join(' AND ')}` : '';
    const count = this.#db.prepare(`SELECT count(*) AS n FROM ${table} ${filter}`).get(...where.params);
    return { ...this.#keysetPage<T>(table, where, query), total: Number(count?.n ?? 0) };
  }

  /** One page on (ts desc, id desc) after the cursor, without counting (total: 0). */
  #keysetPage<T>(
    table: 'events' | 'alerts',
    where: Where,
    query: { size?: number; cursor?: string },
  ): Page<T> {
    const size = pageSize(query.size);
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
      total: 0,
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

/** Rows per export batch (keyset pages; no count). */
const EXPORT_BATCH = 5000;

/** The alert fields the inbox filters on: virtual columns (NOCASE) read from the stored document. */
const INBOX_COLUMNS: ReadonlyArray<[string, string]> = [
  ['source', "json_extract(doc, '$.source')"],
  ['actor', "json_extract(doc, '$.actor')"],
  ['repository', "json_extract(doc, '$.repository')"],
  ['triage_state', "coalesce(json_extract(doc, '$.triage.state'), 'open')"],
];

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

/** A source text as a string (its bytes are UTF-8: Kafka's message value). */
function sourceText(source: string | Uint8Array | undefined): string | undefined {
  return source === undefined || typeof source === 'string' ? source : bufferOf(source).toString('utf8');
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
