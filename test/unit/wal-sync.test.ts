// WalSync on real SQLite files: which file it syncs, when it reopens it, and that a failure sticks.
import { fstatSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fdatasyncFile, type SyncFile, WalSync } from '../../src/util/wal-sync.ts';

let dir: string;
let path: string;
const dbs: DatabaseSync[] = [];
const syncs: WalSync[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pipewarden-wal-sync-'));
  path = join(dir, 'data.db');
});

afterEach(async () => {
  await Promise.all(syncs.splice(0).map((s) => s.close()));
  for (const db of dbs.splice(0)) if (db.isOpen) db.close();
  rmSync(dir, { recursive: true, force: true });
});

function walDb(): DatabaseSync {
  const db = new DatabaseSync(path);
  dbs.push(db);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
  db.exec('CREATE TABLE IF NOT EXISTS t (v TEXT) STRICT');
  return db;
}

/** The real fdatasync, noting the inode of each file it was given. */
function recordingSync(): { sync: SyncFile; inodes: number[] } {
  const inodes: number[] = [];
  return {
    inodes,
    sync: (fd) => {
      const st = fstatSync(fd);
      expect(st.nlink).toBeGreaterThan(0); // never a WAL already deleted
      inodes.push(st.ino);
      return fdatasyncFile(fd);
    },
  };
}

describe('WalSync', () => {
  it('has nothing to sync for an in-memory database, and refuses a database not in WAL mode', () => {
    const memory = new DatabaseSync(':memory:');
    dbs.push(memory);
    expect(WalSync.of(memory)).toBeUndefined();
    const rollback = new DatabaseSync(path);
    dbs.push(rollback);
    rollback.exec('PRAGMA journal_mode = DELETE');
    expect(() => WalSync.of(rollback)).toThrow(/not WAL/);
  });

  it('syncs the -wal file of the connection, and a new one after SQLite replaced it', async () => {
    const { sync, inodes } = recordingSync();
    const first = walDb();
    const ws = WalSync.of(first, sync)!;
    syncs.push(ws);
    first.prepare('INSERT INTO t VALUES (?)').run('a');
    await ws.afterCommit();
    expect(inodes).toEqual([statSync(`${path}-wal`).ino]);

    // The last connection closing deletes the WAL; the next one makes a new file at the same path.
    first.close();
    const second = walDb();
    second.prepare('INSERT INTO t VALUES (?)').run('b');
    const now = statSync(`${path}-wal`).ino;
    expect(now).not.toBe(inodes[0]); // our descriptor kept the old inode alive, so the number differs
    await ws.afterCommit();
    expect(inodes).toEqual([inodes[0], now]);
    await ws.afterCommit(); // same file again: kept open, not reopened
    expect(inodes).toEqual([inodes[0], now, now]);
    expect(ws.stats.syncs).toBe(3);
  });

  it('shares one sync among the calls made while one runs', async () => {
    let running = 0;
    let most = 0;
    let calls = 0;
    const db = walDb();
    const ws = WalSync.of(db, async (fd) => {
      calls++;
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 20));
      await fdatasyncFile(fd);
      running--;
    })!;
    syncs.push(ws);
    const waits: Array<Promise<void>> = [];
    for (let i = 0; i < 10; i++) {
      db.prepare('INSERT INTO t VALUES (?)').run(`v${i}`);
      waits.push(ws.afterCommit());
      await new Promise((r) => setTimeout(r, 3));
    }
    await Promise.all(waits);
    expect(most).toBe(1);
    expect(calls).toBeLessThan(10);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(ws.stats.syncs).toBe(calls);
  });

  it('fails when the WAL is missing, and keeps failing after a failed sync', async () => {
    const missing = new WalSync(join(dir, 'gone.db-wal'));
    syncs.push(missing);
    await expect(missing.afterCommit()).rejects.toMatchObject({ code: 'ENOENT' });

    let calls = 0;
    const db = walDb();
    const ws = WalSync.of(db, async () => {
      calls++;
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    })!;
    syncs.push(ws);
    db.prepare('INSERT INTO t VALUES (?)').run('x');
    const failed = ws.afterCommit();
    const queued = ws.afterCommit(); // came while the failing sync ran
    await expect(failed).rejects.toMatchObject({ code: 'EIO' });
    await expect(queued).rejects.toMatchObject({ code: 'EIO' });
    await expect(ws.afterCommit()).rejects.toMatchObject({ code: 'EIO' });
    expect(ws.failure).toMatchObject({ code: 'EIO' });
    expect(calls).toBe(1);
  });

  it('close waits for the sync in flight and the one queued behind it', async () => {
    const gates: Array<PromiseWithResolvers<void>> = [];
    const db = walDb();
    const ws = WalSync.of(db, (fd) => {
      const gate = Promise.withResolvers<void>();
      gates.push(gate);
      return gate.promise.then(() => fdatasyncFile(fd));
    })!;
    db.prepare('INSERT INTO t VALUES (?)').run('x');
    let answered = 0;
    void ws.afterCommit().then(() => answered++);
    void ws.afterCommit().then(() => answered++);
    let closed = false;
    const closing = ws.close().then(() => {
      closed = true;
    });
    await expect(ws.afterCommit()).rejects.toThrow(/closed/);
    await new Promise((r) => setTimeout(r, 20));
    expect([answered, closed]).toEqual([0, false]);
    gates[0]!.resolve();
    while (gates.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(closed).toBe(false);
    gates[1]!.resolve();
    await closing;
    expect(answered).toBe(2);
  });
});
