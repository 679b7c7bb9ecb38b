// The embedded data holds the whole audit trail, alerts and token hashes: its directory is 0700 and its
// SQLite files 0600, whatever the umask, on a new install and on an existing one (issue 10 item 9).
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';

/** Creates the directory (and parents) if needed and makes it 0700. Returns it. */
export function privateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

/**
 * Creates the SQLite file 0600 before SQLite opens it (SQLite gives its -wal and -shm files the same
 * mode), and narrows an existing one and its companions. Returns the path; ':memory:' passes through.
 */
export function privateFile(path: string): string {
  if (path === ':memory:' || path.startsWith('file:')) return path;
  closeSync(openSync(path, 'a', 0o600));
  for (const p of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    if (existsSync(p)) chmodSync(p, 0o600);
  }
  return path;
}
