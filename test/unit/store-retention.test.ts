// Retention of the audit trail: the embedded store deletes events past storeRetentionDays (with their
// free-text rows), migrates files made before it could, and the collector runs the sweep at start.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { eventId, type PipewardenEvent } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

const DAY = 86_400_000;
const NOW = Date.now();

function event(daysAgo: number, word: string): PipewardenEvent {
  const at = new Date(NOW - daysAgo * DAY).toISOString();
  return {
    '@timestamp': at,
    message: `alice changed ${word}`,
    event: {
      id: eventId('retention', word),
      kind: 'event',
      category: ['configuration'],
      type: ['change'],
      action: 'repository.edited',
      outcome: 'success',
      dataset: 'github.webhook',
      provider: 'github',
      ingested: at,
    },
    user: { name: 'alice' },
    pipewarden: { kind: 'config.change', source: 'github', repository: 'octo/widgets' },
  };
}

const OLD = [event(400, 'quokkaold'), event(120, 'wombatold')];
const RECENT = event(2, 'numbatnew');

describe('embedded store retention', () => {
  it('deletes events older than the cut-off with their free-text rows, and keeps the rest', async () => {
    const store = new SqliteStore({ path: join(mkdtempSync(join(tmpdir(), 'pw-ret-')), 'store.sqlite') });
    await store.init();
    await store.indexEvents([...OLD, RECENT]);
    expect(store.deleteEventsBefore(NOW - 90 * DAY)).toBe(2);
    expect((await store.searchEvents({})).total).toBe(1);
    expect(await store.getEvent(OLD[0]!.event.id)).toBeUndefined();
    expect((await store.searchEvents({ q: 'quokkaold' })).total).toBe(0);
    expect((await store.searchEvents({ q: 'numbatnew' })).total).toBe(1);
    expect(store.deleteEventsBefore(NOW - 90 * DAY)).toBe(0);
    await store.close();
  });

  it('rebuilds the free-text index of a file made before retention, keeping every search working', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'pw-ret-')), 'store.sqlite');
    const first = new SqliteStore({ path });
    await first.init();
    await first.indexEvents([...OLD, RECENT]);
    await first.close();
    // Make it look like an older file: the contentless index without contentless_delete, same rows.
    const db = new DatabaseSync(path);
    db.exec(`DROP TABLE events_fts;
      CREATE VIRTUAL TABLE events_fts USING fts5 (message, action, actor, repository, dataset, other,
        content = '', tokenize = 'unicode61 remove_diacritics 2');`);
    for (const e of [...OLD, RECENT]) {
      const { rowid } = db.prepare('SELECT rowid FROM events WHERE id = ?').get(e.event.id) as {
        rowid: number;
      };
      db.prepare(
        'INSERT INTO events_fts (rowid, message, action, actor, repository, dataset, other) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(rowid, e.message!, e.event.action, 'alice', 'octo/widgets', e.event.dataset, '');
    }
    db.close();

    const migrated = new SqliteStore({ path });
    await migrated.init();
    expect((await migrated.searchEvents({ q: 'quokkaold' })).total).toBe(1);
    expect((await migrated.searchEvents({ q: 'alice octo' })).total).toBe(3);
    expect(migrated.deleteEventsBefore(NOW - 90 * DAY)).toBe(2);
    expect((await migrated.searchEvents({ q: 'quokkaold' })).total).toBe(0);
    await migrated.close();
    const check = new DatabaseSync(path);
    const { sql } = check.prepare("SELECT sql FROM sqlite_master WHERE name = 'events_fts'").get() as {
      sql: string;
    };
    check.close();
    expect(sql).toMatch(/contentless_delete\s*=\s*1/);
  });

  it('is swept by the collector at start when embedded.storeRetentionDays is set', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pw-ret-app-'));
    const log = createLogger({ level: 'silent' });
    const seed = new SqliteStore({ path: join(dataDir, 'store.sqlite') });
    await seed.init();
    await seed.indexEvents([...OLD, RECENT]);
    await seed.close();
    const app = await startApp(
      parseConfig(
        { mode: 'embedded', embedded: { dataDir, storeRetentionDays: 90 }, log: { level: 'silent' } },
        {},
      ),
      { port: 0, log, roles: ['index'] },
    );
    try {
      expect(await app.store.getEvent(OLD[0]!.event.id)).toBeUndefined();
      expect(await app.store.getEvent(OLD[1]!.event.id)).toBeUndefined();
      expect(await app.store.getEvent(RECENT.event.id)).toBeDefined();
    } finally {
      await app.stop();
    }
  });
});
