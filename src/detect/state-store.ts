// Snapshots of the engine's key state, so windows survive a restart and a partition moving to another
// instance. SQLite beside the embedded store; an Elasticsearch index in distributed mode. Why: README.md.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Client } from '@elastic/elasticsearch';
import type { Config } from '../config/schema.ts';
import { createElasticsearchClient, type ElasticsearchConfig, ignoreExists } from '../store/elasticsearch.ts';
import { privateDir, privateFile } from '../util/private-files.ts';
import type { StateChanges, StateEntry } from './engine.ts';

export interface DetectStateStore {
  init(): Promise<void>;
  /** The entries among `ids` that exist and have not expired at `horizonMs` (event time). */
  load(ids: string[], horizonMs: number): Promise<StateEntry[]>;
  /** Durable when it resolves: the detect role commits its offsets only after. */
  save(changes: StateChanges): Promise<void>;
  /** Every entry of one rule (the keys an absence rule watches because it saw them). At most 10,000. */
  entriesOf(detector: string, rule: string): Promise<StateEntry[]>;
  close(): Promise<void>;
}

const MAX_ENTRIES_OF = 10_000;

/** Beside the store of the mode: a SQLite file in the data dir, or an index in Elasticsearch. */
export function createStateStore(config: Config): DetectStateStore {
  if (config.mode === 'distributed') return new ElasticsearchStateStore(config.elasticsearch!);
  return new SqliteStateStore(join(privateDir(config.embedded.dataDir), 'detect-state.sqlite'));
}

/** For tests and replay: nothing survives the process. */
export class MemoryStateStore implements DetectStateStore {
  readonly entries = new Map<string, StateEntry>();
  async init(): Promise<void> {}
  async load(ids: string[], horizonMs: number): Promise<StateEntry[]> {
    return ids.flatMap((id) => {
      const e = this.entries.get(id);
      return e && e.expiresAt > horizonMs ? [structuredClone(e)] : [];
    });
  }
  async save(changes: StateChanges): Promise<void> {
    for (const e of changes.upserts) this.entries.set(e.id, structuredClone(e));
    for (const id of changes.deletes) this.entries.delete(id);
  }
  async entriesOf(detector: string, rule: string): Promise<StateEntry[]> {
    return [...this.entries.values()]
      .filter((e) => e.detector === detector && e.rule === rule)
      .slice(0, MAX_ENTRIES_OF)
      .map((e) => structuredClone(e));
  }
  async close(): Promise<void> {}
}

export class SqliteStateStore implements DetectStateStore {
  readonly #db: DatabaseSync;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new DatabaseSync(privateFile(path), { timeout: 5_000 }); // 0600
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
  }

  async init(): Promise<void> {
    this.#db.exec(`CREATE TABLE IF NOT EXISTS detect_state (
      id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, entry TEXT NOT NULL) STRICT;
      CREATE INDEX IF NOT EXISTS detect_state_rule
        ON detect_state (json_extract(entry, '$.detector'), json_extract(entry, '$.rule'))`);
  }

  async entriesOf(detector: string, rule: string): Promise<StateEntry[]> {
    const rows = this.#db
      .prepare(
        `SELECT entry FROM detect_state
         WHERE json_extract(entry, '$.detector') = ? AND json_extract(entry, '$.rule') = ? LIMIT ?`,
      )
      .all(detector, rule, MAX_ENTRIES_OF) as Array<{ entry: string }>;
    return rows.map((r) => JSON.parse(r.entry) as StateEntry);
  }

  async load(ids: string[], horizonMs: number): Promise<StateEntry[]> {
    const get = this.#db.prepare('SELECT entry FROM detect_state WHERE id = ? AND expires_at > ?');
    const out: StateEntry[] = [];
    for (const id of ids) {
      const row = get.get(id, Math.max(horizonMs, -8.64e15)) as { entry: string } | undefined;
      if (row) out.push(JSON.parse(row.entry) as StateEntry);
    }
    return out;
  }

  async save(changes: StateChanges): Promise<void> {
    if (!changes.upserts.length && !changes.deletes.length) return;
    const put = this.#db.prepare(
      'INSERT INTO detect_state (id, expires_at, entry) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at, entry = excluded.entry',
    );
    const del = this.#db.prepare('DELETE FROM detect_state WHERE id = ?');
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const e of changes.upserts) put.run(e.id, e.expiresAt, JSON.stringify(e));
      for (const id of changes.deletes) del.run(id);
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}

/** One document per (detector, rule, key); `entry` is stored, not indexed. */
export class ElasticsearchStateStore implements DetectStateStore {
  readonly #client: Client;
  readonly #index: string;

  constructor(config: ElasticsearchConfig) {
    this.#client = createElasticsearchClient(config);
    this.#index = `${config.indexPrefix}-detect-state`;
  }

  async init(): Promise<void> {
    const mappings = {
      dynamic: false,
      properties: {
        expires_at: { type: 'long' },
        entry: { type: 'object', enabled: false },
        // For `entriesOf`: which rule a key state belongs to.
        detector: { type: 'keyword' },
        rule: { type: 'keyword' },
      },
    } as const;
    const exists = await this.#client.indices.exists({ index: this.#index });
    if (exists) {
      await this.#client.indices.putMapping({ index: this.#index, ...mappings }); // additive
      return;
    }
    // Another instance may create it first.
    await ignoreExists(
      this.#client.indices.create({
        index: this.#index,
        settings: { number_of_shards: 1, auto_expand_replicas: '0-1' },
        mappings,
      }),
    );
  }

  async entriesOf(detector: string, rule: string): Promise<StateEntry[]> {
    const res = await this.#client.search<{ entry: StateEntry }>({
      index: this.#index,
      size: MAX_ENTRIES_OF,
      query: { bool: { filter: [{ term: { detector } }, { term: { rule } }] } },
    });
    return res.hits.hits.flatMap((h) => (h._source ? [h._source.entry] : []));
  }

  async load(ids: string[], horizonMs: number): Promise<StateEntry[]> {
    if (ids.length === 0) return [];
    // mget reads the latest write without waiting for a refresh.
    const res = await this.#client.mget<{ expires_at: number; entry: StateEntry }>({
      index: this.#index,
      ids,
    });
    const out: StateEntry[] = [];
    for (const d of res.docs) {
      if ('found' in d && d.found && d._source && d._source.expires_at > horizonMs) out.push(d._source.entry);
    }
    return out;
  }

  async save(changes: StateChanges): Promise<void> {
    const ops: object[] = [];
    for (const e of changes.upserts)
      ops.push(
        { index: { _index: this.#index, _id: e.id } },
        { expires_at: e.expiresAt, detector: e.detector, rule: e.rule, entry: e },
      );
    for (const id of changes.deletes) ops.push({ delete: { _index: this.#index, _id: id } });
    if (ops.length === 0) return;
    const res = await this.#client.bulk({ operations: ops });
    if (res.errors) {
      const failed = res.items.find((i) => {
        const r = i.index ?? i.delete;
        return r?.error && !(i.delete && r.status === 404);
      });
      if (failed)
        throw new Error(
          `detect state snapshot failed: ${JSON.stringify((failed.index ?? failed.delete)?.error)}`,
        );
    }
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}
