// Paging shared by both stores: times parsed the same way, one page size rule, one opaque cursor format.
// A RangeError here is the caller's mistake (the API answers 400).

/** Epoch ms of an ISO time; `what` names the field in the error. */
export function parseTime(value: string, what: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new RangeError(`${what} is not a valid time: ${JSON.stringify(value)}`);
  return ms;
}

/** Page size 1..500, default 50. */
export function pageSize(size: number | undefined): number {
  return Math.min(500, Math.max(1, Math.trunc(size ?? 50)));
}

/** Sort position of the last item of a page: (time in epoch ms, id), newest first. */
export type SortValues = [number, string];

export function encodeCursor(values: SortValues): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string): SortValues {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    // Finite: [1e400, "a"] parses to Infinity, which Elasticsearch refused with its own error text.
    if (Array.isArray(v) && v.length === 2 && Number.isFinite(v[0]) && typeof v[1] === 'string') {
      return [v[0], v[1]];
    }
  } catch {
    // Falls through to the error below: a cursor is opaque, so any damage reads the same.
  }
  throw new RangeError('invalid cursor: pass back the `next` of the previous page unchanged');
}
