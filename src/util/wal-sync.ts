// Durable SQLite commits without an fsync on the event loop (issue #15). A connection in WAL mode with
// synchronous=NORMAL writes a commit's frames to the -wal file (write(), no fsync) and returns; WalSync
// then runs fdatasync on that file in libuv's thread pool, and a caller may answer "stored" only once it
// resolves. If the power fails before that, SQLite's recovery drops the frames that did not reach the disk
// whole (each frame carries a running checksum), so the commit is absent, never half there: and nobody was
// told it was stored. fsync applies to the file (inode), so our own descriptor on the -wal file flushes
// what SQLite's connection wrote through its own.
import { closeSync, fdatasync, fstatSync, openSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';

/** Flushes a file's data to the disk; the default is fdatasync on libuv's pool. Tests make it slow or fail. */
export type SyncFile = (fd: number) => Promise<void>;

export const fdatasyncFile: SyncFile = (fd) =>
  new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));

type Waiters = PromiseWithResolvers<void>;

export class WalSync {
  /** Syncs completed; one covers every commit made before it began, so under load there are fewer than commits. */
  readonly stats = { syncs: 0 };
  readonly #wal: string;
  readonly #sync: SyncFile;
  #file: { fd: number; dev: number; ino: number; dirSynced: boolean } | undefined;
  #running: Promise<void> | undefined;
  /** Callers that came while a sync was running: they share the next one, begun when it ends. */
  #next: Waiters | undefined;
  #failure: Error | undefined;
  #closed = false;

  /**
   * The WalSync of `db`'s main file, or undefined for a database without one (':memory:'), where there is
   * nothing to make durable. The connection must be in WAL mode: in a rollback journal, synchronous=NORMAL
   * would not leave the commit in one file that a later fsync could make durable.
   */
  static of(db: DatabaseSync, sync: SyncFile = fdatasyncFile): WalSync | undefined {
    const main = db.prepare("SELECT file FROM pragma_database_list WHERE name = 'main'").get() as
      | { file: string }
      | undefined;
    if (!main?.file) return undefined;
    const { journal_mode: mode } = db.prepare('PRAGMA journal_mode').get() as { journal_mode: string };
    if (mode.toLowerCase() !== 'wal') {
      throw new Error(
        `${main.file}: journal mode is ${mode}, not WAL; commits cannot be synced after the fact`,
      );
    }
    return new WalSync(`${main.file}-wal`, sync);
  }

  constructor(walPath: string, sync: SyncFile = fdatasyncFile) {
    this.#wal = walPath;
    this.#sync = sync;
  }

  /**
   * The first failed sync, kept: after a failed fsync the kernel may have dropped pages that never reached
   * the disk, and a later sync succeeding would not bring them back (nor, the WAL's checksums chaining
   * frame to frame, the commits after them). Every later afterCommit rejects with it until the process
   * restarts.
   */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /**
   * Resolves once an fdatasync of the WAL begun after this call has completed: every commit made before the
   * call is then on disk. At most one sync runs at a time; calls made while one runs share the next one,
   * begun as soon as it ends (group commit: the event loop goes on committing while the disk syncs).
   * Rejects if that sync fails (see `failure`).
   */
  afterCommit(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new Error(`${this.#wal}: closed`));
    if (this.#running) {
      this.#next ??= Promise.withResolvers<void>();
      return this.#next.promise;
    }
    const waiters = Promise.withResolvers<void>();
    this.#start(waiters);
    return waiters.promise;
  }

  /** Waits for the syncs already asked for (they still run), then lets go of the file. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running) await this.#running;
    if (this.#file) closeSync(this.#file.fd);
    this.#file = undefined;
  }

  #start(waiters: Waiters): void {
    this.#running = this.#syncOnce()
      .then(
        () => {
          this.stats.syncs += 1;
          waiters.resolve();
        },
        (err: unknown) => {
          this.#failure ??= err instanceof Error ? err : new Error(String(err));
          waiters.reject(this.#failure);
        },
      )
      .then(() => {
        this.#running = undefined;
        const next = this.#next;
        this.#next = undefined;
        if (!next) return;
        if (this.#failure) next.reject(this.#failure);
        else this.#start(next);
      });
  }

  async #syncOnce(): Promise<void> {
    const file = this.#current();
    await this.#sync(file.fd);
    if (!file.dirSynced) {
      // A WAL file new to us may be new on disk too: its directory entry must be durable as well (SQLite
      // syncs it on its own first sync of the file, which under NORMAL waits for the first checkpoint).
      const dir = await open(dirname(this.#wal), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      file.dirSynced = true;
    }
  }

  /**
   * Our descriptor on the WAL, reopened when the path names another file than the one we hold (SQLite
   * deletes the WAL when the last connection to the database closes, and makes a new one on the next open;
   * a reset after a checkpoint rewrites the same file from its start, which changes nothing here). A missing
   * WAL while the connection is open throws: nothing we could sync would hold the commit.
   */
  #current(): { fd: number; dev: number; ino: number; dirSynced: boolean } {
    const now = statSync(this.#wal);
    const held = this.#file;
    if (held && held.dev === now.dev && held.ino === now.ino) return held;
    if (held) closeSync(held.fd);
    this.#file = undefined;
    // Read-write, never create: fsync needs a writable descriptor on some systems; we never write through it.
    const fd = openSync(this.#wal, 'r+');
    const opened = fstatSync(fd); // what we opened, should the path have changed again since the stat
    this.#file = { fd, dev: opened.dev, ino: opened.ino, dirSynced: false };
    return this.#file;
  }
}
