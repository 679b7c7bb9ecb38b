// Durations people type: 90s, 30m, 12h, 7d.
const UNITS: ReadonlyMap<string, number> = new Map([
  ['s', 1_000],
  ['m', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
  ['w', 7 * 86_400_000],
]);

/** Milliseconds of "30m", "12h", "7d"; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,6})([smhdw])$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNITS.get(m[2]!)!;
}

/** A duration from now or an ISO time, as an ISO time in the future; undefined when neither. */
export function parseExpiry(text: string, now: Date): string | undefined {
  const ms = parseDuration(text);
  if (ms !== undefined && ms > 0) return new Date(now.getTime() + ms).toISOString();
  const at = Date.parse(text);
  if (/^\d{4}-\d{2}-\d{2}/.test(text) && Number.isFinite(at) && at > now.getTime())
    return new Date(at).toISOString();
  return undefined;
}
