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
