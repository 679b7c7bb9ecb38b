// The embedded bus: an append-only log per topic in one SQLite file (node:sqlite), with consumer groups.
import { EventEmitter } from 'node:events';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { createLogger, type Logger } from '../log.ts';
import { privateFile } from '../util/private-files.ts';
import {
  type BatchHandler,
  type Bus,
  BusUnavailableError,
  type ConsumedMessage,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
} from './types.ts';

export interface SqliteBusOptions {
  path: string; // ':memory:' for tests
  log?: Logger;
  retentionMs?: number;
  pollIntervalMs?: number;
  /**
   * Group commit window (ms, file only): a publish finding no commit scheduled waits this long for others
   * to share its transaction and fsync (default 2; 0: the same tick only).
   */
  groupCommitMs?: number;
}

const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;
const DEFAULT_POLL_MS = 250;
const DEFAULT_MAX_BATCH = 500;
const DEFAULT_GROUP_COMMIT_MS = 2;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
const RETENTION_CHUNK = 10_000;
const PAGE_SIZE = 16_384;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS bus_topics (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL) STRICT;
  -- AUTOINCREMENT: offsets are never reused, even after retention empties a topic.
  CREATE TABLE IF NOT EXISTS bus_messages (
    offset INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    headers TEXT NOT NULL,
    ts INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS bus_messages_topic ON bus_messages (topic, offset);
  CREATE INDEX IF NOT EXISTS bus_messages_ts ON bus_messages (ts);
  -- next_offset is the first offset the group has not yet processed (Kafka's committed-offset meaning).
  CREATE TABLE IF NOT EXISTS bus_consumer_offsets (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (grp, topic)
  ) STRICT;
`;

interface PendingPublish {
  topic: string;
  messages: OutgoingMessage[];
  resolve: () => void;
  reject: (err: Error) => void;
}

interface MessageRow {
  offset: number;
  key: string;
  value: string;
  headers: string;
  ts: number;
}

export class SqliteBus implements Bus {
  readonly kind = 'sqlite' as const;
  /** Counts of committed publish transactions and the messages they carried (group commit makes these differ). */
  readonly stats = { commits: 0, messages: 0 };

  readonly #db: DatabaseSync;
  readonly #log: Logger;
  readonly #retentionMs: number;
  readonly #pollMs: number;
  readonly #appended = new EventEmitter();
  readonly #knownTopics = new Set<string>();
  readonly #consumers = new Map<string, SqliteSubscription>();
  readonly #groups: Array<{ group: string; topic: string }> = [];
  readonly #retentionTimer: NodeJS.Timeout;
  #queue: PendingPublish[] = [];
  #flushScheduled = false;
  readonly #groupCommitMs: number;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #sql: {
    insertTopic: StatementSync;
    topicExists: StatementSync;
    insert: StatementSync;
    read: StatementSync;
    endOffset: StatementSync;
    getOffset: StatementSync;
    countFrom: StatementSync;
    setOffset: StatementSync;
    expire: StatementSync;
  };

  constructor(options: SqliteBusOptions) {
    this.#log = (options.log ?? createLogger()).child({ component: 'bus', bus: 'sqlite' });
    this.#retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.#pollMs = options.pollIntervalMs ?? DEFAULT_POLL_MS;
    // A second process may hold the write lock briefly: wait for it rather than fail.
    this.#groupCommitMs =
      options.path === ':memory:' ? 0 : (options.groupCommitMs ?? DEFAULT_GROUP_COMMIT_MS);
    this.#db = new DatabaseSync(privateFile(options.path), { timeout: 5_000 }); // 0600
    // NORMAL for what this connection writes outside a publish (consumer offsets, topics, retention): in WAL
    // mode such a commit is not fsync'd on its own; a power cut (not a crash of the process) may lose the
    // last ones, and a lost offset only means redelivery, which consumers tolerate. The next publish, FULL,
    // syncs the log with those frames in it. Publishes switch to FULL for their transaction (#flush).
    // 16 KiB pages (a new file only; an existing one keeps its own): a 7 KB event fits a leaf page instead of
    // spilling into two overflow pages, so a commit writes fewer WAL frames (measured: 21 instead of 29 CPU µs
    // per 7.2 KB message, 16 messages per commit). Set before WAL, which fixes the page size once the file exists.
    this.#db.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    this.#db.exec(SCHEMA);
    this.#sql = {
      insertTopic: this.#db.prepare('INSERT OR IGNORE INTO bus_topics (name, created_at) VALUES (?, ?)'),
      topicExists: this.#db.prepare('SELECT 1 AS found FROM bus_topics WHERE name = ?'),
      insert: this.#db.prepare(
        'INSERT INTO bus_messages (topic, key, value, headers, ts) VALUES (?, ?, ?, ?, ?)',
      ),
      read: this.#db.prepare(
        'SELECT offset, key, value, headers, ts FROM bus_messages WHERE topic = ? AND offset >= ? ORDER BY offset LIMIT ?',
      ),
      endOffset: this.#db.prepare(
        'SELECT COALESCE(MAX(offset), 0) + 1 AS next FROM bus_messages WHERE topic = ?',
      ),
      getOffset: this.#db.prepare('SELECT next_offset FROM bus_consumer_offsets WHERE grp = ? AND topic = ?'),
      countFrom: this.#db.prepare('SELECT COUNT(*) AS n FROM bus_messages WHERE topic = ? AND offset >= ?'),
      setOffset: this.#db.prepare(
        `INSERT INTO bus_consumer_offsets (grp, topic, next_offset) VALUES (?, ?, ?)
         ON CONFLICT (grp, topic) DO UPDATE SET next_offset = excluded.next_offset`,
      ),
      expire: this.#db.prepare(
        'DELETE FROM bus_messages WHERE offset IN (SELECT offset FROM bus_messages WHERE ts < ? LIMIT ?)',
      ),
    };
    this.#appended.setMaxListeners(0);
    const every = Math.max(1_000, Math.min(this.#retentionMs / 10, 3600_000));
    this.#retentionTimer = setInterval(() => this.#expireSafely(), every);
    this.#retentionTimer.unref(); // housekeeping must not keep the process alive
  }

  async ensureTopics(topics: string[]): Promise<void> {
    this.#assertOpen();
    const now = Date.now();
    for (const topic of topics) {
      if (topic === '') throw new Error('topic names must not be empty');
      this.#sql.insertTopic.run(topic, now);
      this.#knownTopics.add(topic);
    }
  }

  publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(new BusUnavailableError('SQLite bus is closed'));
    let known: boolean;
    try {
      known = this.#topicExists(topic);
    } catch (err) {
      return Promise.reject(
        new BusUnavailableError('SQLite bus could not look up the topic', { cause: err }),
      );
    }
    // Checked before queueing so that one caller's mistake cannot fail the others' batch.
    if (!known) {
      return Promise.reject(new Error(`unknown topic "${topic}": create it with ensureTopics first`));
    }
    if (messages.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#queue.push({ topic, messages, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // Group commit: everything published in this tick (on a file: in this short window) shares one
        // transaction and one fsync.
        if (this.#groupCommitMs > 0) setTimeout(() => this.#flush(), this.#groupCommitMs);
        else setImmediate(() => this.#flush());
      }
    });
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.#assertOpen();
    const { topic, group } = options;
    this.#groups.push({ group, topic });
    if (!this.#topicExists(topic)) {
      throw new Error(`unknown topic "${topic}": create it with ensureTopics first`);
    }
    const id = `${group}\u0000${topic}`;
    if (this.#consumers.has(id)) {
      throw new Error(`group "${group}" already has a consumer on topic "${topic}" in this process`);
    }
    const row = this.#sql.getOffset.get(group, topic) as { next_offset: number } | undefined;
    let nextOffset = row?.next_offset;
    if (nextOffset === undefined) {
      const start = options.fromBeginning === false ? this.#sql.endOffset.get(topic) : undefined;
      nextOffset = (start as { next: number } | undefined)?.next ?? 0;
      // Record the starting point so that messages published before the first fetch are not skipped.
      this.#sql.setOffset.run(group, topic, nextOffset);
    }
    const subscription = new SqliteSubscription({
      topic,
      group,
      handler: options.handler,
      maxBatch: options.maxBatch ?? DEFAULT_MAX_BATCH,
      lingerMs: options.lingerMs ?? 0,
      pollMs: this.#pollMs,
      nextOffset,
      log: this.#log.child({ topic, group }),
      appended: this.#appended,
      read: (from, limit) => this.#read(topic, from, limit),
      commit: (next) => {
        this.#sql.setOffset.run(group, topic, next);
      },
      onStopped: () => this.#consumers.delete(id),
    });
    this.#consumers.set(id, subscription);
    return subscription;
  }

  async ping(): Promise<void> {
    try {
      this.#assertOpen();
      this.#db.prepare('SELECT 1').get();
    } catch (err) {
      throw err instanceof BusUnavailableError
        ? err
        : new BusUnavailableError('SQLite bus unreachable', { cause: err });
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await Promise.all([...this.#consumers.values()].map((c) => c.stop()));
    this.#flush(); // publishes already accepted are written, not dropped
    this.#closed = true;
    clearInterval(this.#retentionTimer);
    this.#db.close();
  }

  consumerGroups(): ReadonlyArray<{ group: string; topic: string }> {
    return this.#groups;
  }

  async lag(group: string, topic: string): Promise<number> {
    this.#assertOpen();
    const row = this.#sql.getOffset.get(group, topic) as { next_offset: number } | undefined;
    const { n } = this.#sql.countFrom.get(topic, row?.next_offset ?? 0) as { n: number };
    return Number(n);
  }

  /** Deletes messages older than the retention period; returns how many. Runs periodically on its own. */
  deleteExpired(now = Date.now()): number {
    this.#assertOpen();
    let total = 0;
    // In chunks, so that a large backlog never holds the write lock for long.
    for (;;) {
      const { changes } = this.#sql.expire.run(now - this.#retentionMs, RETENTION_CHUNK);
      total += Number(changes);
      if (Number(changes) < RETENTION_CHUNK) return total;
    }
  }

  #expireSafely(): void {
    try {
      const deleted = this.#closed ? 0 : this.deleteExpired();
      if (deleted > 0) this.#log.info({ deleted }, 'Deleted messages past retention.');
    } catch (err) {
      this.#log.warn({ err }, 'Retention sweep failed; will retry.');
    }
  }

  /**
   * One transaction for the queued publishes, fsync'd (FULL) before they are answered: the fsync blocks the
   * event loop. Tried and measured (issue #15, 2 shared cores): committing with NORMAL and answering after
   * an fdatasync of the -wal file on libuv's pool (one sync in flight, commits meanwhile sharing the next)
   * cut #flush from 23 % to 10 % of the ingest role's profile but saved no CPU: the fsync's kernel time
   * moved to the pool, and with the loop no longer held, the 2 ms window closed on smaller commits (18
   * instead of 26 messages), so CPU per request rose (123 -> 136, 130 -> 153 µs) and req/s did not (ratio
   * to the bare route 0.39 -> 0.37, 0.41 -> 0.38). Opening the window only once the previous sync had
   * completed kept commits at 26 messages and CPU at par (127 vs 131 µs), with no steady req/s gain.
   * Reverted (branch syncoff, b6ef72d); the target is CPU in the request path, not the wait.
   */
  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    let count = 0;
    try {
      if (this.#closed) throw new Error('database is closed');
      const ts = Date.now();
      this.#db.exec('PRAGMA synchronous = FULL'); // a publish is answered once it is on disk
      this.#db.exec('BEGIN IMMEDIATE');
      for (const { topic, messages } of batch) {
        for (const m of messages)
          this.#sql.insert.run(topic, m.key, m.value, JSON.stringify(m.headers ?? {}), ts);
        count += messages.length;
      }
      this.#db.exec('COMMIT');
      this.#db.exec('PRAGMA synchronous = NORMAL');
    } catch (err) {
      this.#rollback();
      const error = new BusUnavailableError('SQLite bus could not store the messages', { cause: err });
      this.#log.error({ err, publishes: batch.length, messages: count }, 'Publish transaction failed.');
      for (const p of batch) p.reject(error);
      return;
    }
    this.stats.commits += 1;
    this.stats.messages += count;
    for (const p of batch) p.resolve();
    for (const topic of new Set(batch.map((p) => p.topic))) this.#appended.emit(topic);
  }

  #rollback(): void {
    try {
      if (this.#db.isOpen && this.#db.isTransaction) this.#db.exec('ROLLBACK');
      if (this.#db.isOpen) this.#db.exec('PRAGMA synchronous = NORMAL');
    } catch (err) {
      this.#log.error({ err }, 'Rollback failed.');
    }
  }

  #read(topic: string, from: number, limit: number): ConsumedMessage[] {
    const rows = this.#sql.read.all(topic, from, limit) as unknown as MessageRow[];
    return rows.map((r) => ({
      topic,
      partition: 0,
      offset: String(r.offset),
      key: r.key,
      value: r.value,
      headers: JSON.parse(r.headers) as Record<string, string>,
      timestamp: r.ts,
    }));
  }

  #topicExists(topic: string): boolean {
    if (this.#knownTopics.has(topic)) return true;
    // Another process sharing the file may have created it.
    if (this.#sql.topicExists.get(topic) === undefined) return false;
    this.#knownTopics.add(topic);
    return true;
  }

  #assertOpen(): void {
    if (this.#closed) throw new BusUnavailableError('SQLite bus is closed');
  }
}

interface SqliteSubscriptionParts {
  topic: string;
  group: string;
  handler: BatchHandler;
  maxBatch: number;
  lingerMs: number;
  pollMs: number;
  nextOffset: number;
  log: Logger;
  appended: EventEmitter;
  read: (from: number, limit: number) => ConsumedMessage[];
  commit: (nextOffset: number) => void;
  onStopped: () => void;
}

/** One consumer loop: fetch after the committed offset, hand over, commit, repeat; sleep when caught up. */
class SqliteSubscription implements Subscription {
  readonly #p: SqliteSubscriptionParts;
  #nextOffset: number;
  #stopping = false;
  #idle = false;
  #wake: (() => void) | undefined;
  readonly #loop: Promise<void>;
  readonly #onAppend = () => {
    if (this.#idle) this.#wake?.();
  };

  constructor(parts: SqliteSubscriptionParts) {
    this.#p = parts;
    this.#nextOffset = parts.nextOffset;
    parts.appended.on(parts.topic, this.#onAppend);
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { log } = this.#p;
    let backoff = BACKOFF_MIN_MS;
    while (!this.#stopping) {
      let batch: ConsumedMessage[];
      try {
        batch = this.#p.read(this.#nextOffset, this.#p.maxBatch);
      } catch (err) {
        log.error({ err }, 'Reading the log failed; retrying.');
        await this.#sleep(backoff, false);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        continue;
      }
      if (batch.length === 0) {
        await this.#sleep(this.#p.pollMs, true); // a publish in this process wakes us early
        continue;
      }
      if (batch.length < this.#p.maxBatch && this.#p.lingerMs > 0 && !this.#stopping) {
        // A short batch: let more arrive, so the handler's per-batch cost is shared by more messages.
        await this.#sleep(this.#p.lingerMs, false);
        try {
          batch = this.#p.read(this.#nextOffset, this.#p.maxBatch);
        } catch (err) {
          log.error({ err }, 'Reading the log failed; retrying.');
          continue;
        }
      }
      const first = batch[0]!.offset;
      try {
        await this.#p.handler(batch);
      } catch (err) {
        log.warn(
          { err, offset: first, count: batch.length, backoffMs: backoff },
          'Handler failed; redelivering.',
        );
        await this.#sleep(backoff, false);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        continue;
      }
      const next = Number(batch.at(-1)!.offset) + 1;
      try {
        this.#p.commit(next);
        this.#nextOffset = next;
        backoff = BACKOFF_MIN_MS;
      } catch (err) {
        // Not advancing means redelivery, which handlers tolerate; losing the batch they would not.
        log.error({ err, offset: first, count: batch.length }, 'Offset commit failed; redelivering.');
        await this.#sleep(backoff, false);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
    this.#p.appended.off(this.#p.topic, this.#onAppend);
    this.#p.onStopped();
  }

  /** Sleeps for `ms`, cut short by stop() and, when `idle`, by a publish to the topic. */
  #sleep(ms: number, idle: boolean): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        this.#idle = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#idle = idle;
      this.#wake = done;
    });
  }
}
