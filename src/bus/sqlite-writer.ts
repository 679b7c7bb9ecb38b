// The embedded bus's writer thread (src/bus/sqlite.ts): it owns the connection that appends published
// messages, so the transaction and its fsync (synchronous=FULL) never block the event loop that answers
// requests. One batch at a time: everything the main thread queued while the previous commit ran is the
// next transaction (group commit), and a publish is answered only after the COMMIT that holds it returned.
// Plain Node (no project imports): it runs as a worker with Node's own TypeScript stripping.
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

export interface WriteBatch {
  id: number;
  /** topic, key, value, headers (JSON) per message, in publish order. */
  rows: Array<[string, string, string, string]>;
}

export type WriteResult = { id: number; ok: true; ts: number } | { id: number; ok: false; error: string };

const { path } = workerData as { path: string };
const db = new DatabaseSync(path, { timeout: 5_000 });
db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
const insert = db.prepare('INSERT INTO bus_messages (topic, key, value, headers, ts) VALUES (?, ?, ?, ?, ?)');

parentPort!.on('message', (batch: WriteBatch | 'close') => {
  if (batch === 'close') {
    db.close();
    parentPort!.close();
    return;
  }
  const ts = Date.now(); // one storage time for everything one transaction wrote
  let result: WriteResult;
  try {
    db.exec('BEGIN IMMEDIATE');
    for (const [topic, key, value, headers] of batch.rows) insert.run(topic, key, value, headers, ts);
    db.exec('COMMIT');
    result = { id: batch.id, ok: true, ts };
  } catch (err) {
    try {
      if (db.isTransaction) db.exec('ROLLBACK');
    } catch {
      // the error below is what the publishers are told
    }
    result = { id: batch.id, ok: false, error: (err as Error).message };
  }
  parentPort!.postMessage(result);
});
