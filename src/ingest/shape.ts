// A vendor's event-type header is often not covered by its signature (GitHub's X-GitHub-Event,
// Bitbucket's X-Event-Key, Nexus's X-Nexus-Webhook-Id): a signed body replayed under another type must not
// become another event (a signed `team` body sent as `deploy_key` raised a forged "deploy key added").
// Each adapter declares, as data, the fields the vendor documents for each type it maps; a body without
// them is refused (400) with a message naming the mismatch.
import { AdapterInputError } from './types.ts';

export type FieldType = 'object' | 'string' | 'number' | 'array' | 'boolean' | 'absent';

/**
 * Fields per event type: a dotted path (one level of nesting at most) and its JSON type, 'absent' for a
 * field the type never has, or the list of values a string may take (a small, long-stable action set).
 */
export type Shape = Readonly<Record<string, FieldType | readonly string[]>>;

function typeOf(v: unknown): FieldType | 'null' {
  if (v === undefined) return 'absent';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  return t === 'object' || t === 'string' || t === 'number' || t === 'boolean' ? t : 'absent';
}

/**
 * Top-level fields that only some event types carry (GitHub's `rule`, `key`, `alert`, …), with those
 * types: a body carrying one is not a payload of any other type, so a generic type (`repository`,
 * `organization`) cannot be claimed for a specific body.
 */
export type Markers = ReadonlyMap<string, readonly string[]>;

/**
 * What the body lacks for `type` per `shape`, or the marker of another type it carries; undefined when it
 * agrees with `type`.
 */
export function shapeProblem(
  typeHeader: string,
  type: string,
  shape: Shape | undefined,
  body: Record<string, unknown>,
  markers?: Markers,
): string | undefined {
  for (const [field, owners] of markers ?? []) {
    if (Object.hasOwn(body, field) && body[field] != null && !owners.includes(type))
      return `${typeHeader} says '${type}' but the body carries ${field}, which only a ${owners.join(' or ')} payload has; the header is not covered by the signature, so the body must agree with it`;
  }
  if (!shape) return undefined;
  const missing: string[] = [];
  for (const [path, want] of Object.entries(shape)) {
    const [head, tail] = path.split('.', 2) as [string, string | undefined];
    let v: unknown = Object.hasOwn(body, head) ? body[head] : undefined;
    if (tail !== undefined) {
      const o = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
      v = o && Object.hasOwn(o, tail) ? o[tail] : undefined;
    }
    if (typeof want !== 'string') {
      if (typeof v !== 'string' || !want.includes(v)) missing.push(`${path} (one of ${want.join(', ')})`);
    } else if (want === 'absent') {
      if (v !== undefined) missing.push(`no ${path}`);
    } else if (typeOf(v) !== want) missing.push(`${path} (${want})`);
  }
  if (!missing.length) return undefined;
  return `${typeHeader} says '${type}' but the body does not have the shape of a ${type} payload: it lacks ${missing.join(', ')}; the header is not covered by the signature, so the body must agree with it`;
}

/** Throws AdapterInputError (answered 400) when the body does not have the declared type's shape. */
export function checkShape(
  typeHeader: string,
  type: string,
  shape: Shape | undefined,
  body: Record<string, unknown>,
  markers?: Markers,
): void {
  const problem = shapeProblem(typeHeader, type, shape, body, markers);
  if (problem) throw new AdapterInputError(problem);
}
