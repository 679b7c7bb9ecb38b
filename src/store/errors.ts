// Whether a store failure means "the store is down or overloaded, retry later" (a 503 naming the store)
// rather than a bug (a 500).
import { errors } from '@elastic/elasticsearch';

/** SQLite result codes that pass: busy, locked, I/O error, disk full, cannot open. */
const SQLITE_TRANSIENT = new Set([5, 6, 10, 13, 14]);

/** A short description of why the store cannot answer now, or undefined when `err` is something else. */
export function storeUnavailable(err: unknown): string | undefined {
  // Callers may wrap the store's error (so its text never reaches a client): look through `cause`.
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const why = unavailable(e);
    if (why) return why;
  }
  return undefined;
}

function unavailable(err: unknown): string | undefined {
  if (
    err instanceof errors.ConnectionError ||
    err instanceof errors.TimeoutError ||
    err instanceof errors.NoLivingConnectionsError
  )
    return `Elasticsearch is unreachable (${err.name})`;
  if (err instanceof errors.ResponseError) {
    const type = err.body?.error?.type as string | undefined;
    if ([429, 502, 503, 504].includes(err.statusCode ?? 0) || type === 'cluster_block_exception')
      return `Elasticsearch cannot answer now (${err.statusCode}${type ? ` ${type}` : ''})`;
    return undefined;
  }
  const e = err as { code?: string; errcode?: number } | undefined;
  if (e?.code === 'ERR_SQLITE_ERROR' && SQLITE_TRANSIENT.has((e.errcode ?? 0) & 0xff))
    return 'the embedded store (SQLite) cannot answer now';
  return undefined;
}
