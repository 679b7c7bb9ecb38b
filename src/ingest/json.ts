// Reading untyped vendor JSON safely: a value is used only when it has the shape we expect.

export type Json = Record<string, unknown>;

/** The value as an object (not an array), else undefined. */
export const obj = (v: unknown): Json | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;

/** A non-empty string, else undefined. */
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** An id that vendors send as a number or a string, as a string. */
export const idStr = (v: unknown): string | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? String(v) : str(v);

/**
 * A vendor timestamp as an ISO string, else undefined: an ISO 8601 string whose offset may lack the colon
 * ("2019-03-01T10:08:35+0100", as Atlassian and Sonatype send), or with `epochMs` a number of epoch
 * milliseconds. Callers pick their own fallback (receivedAt, or none).
 */
export function isoTime(v: unknown, opts: { epochMs?: boolean } = {}): string | undefined {
  if (opts.epochMs && typeof v === 'number' && Number.isFinite(v) && v > 0 && v < 1e14)
    return new Date(v).toISOString();
  const s = str(v);
  if (!s) return undefined;
  const t = Date.parse(s.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** Deepest nesting accepted in an ingest body: real payloads stay under 20; JSON.stringify overflows near 10,000. */
export const MAX_JSON_DEPTH = 64;

/** Whether a parsed JSON value nests deeper than `max`; iterative, so a deep value cannot overflow the check. */
export function nestedDeeperThan(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
