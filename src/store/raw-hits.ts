// The exact text of each hit's `_source` in an Elasticsearch search response. Elasticsearch sends a
// document's `_source` back byte for byte as it was indexed (when the mapping has no `_source` filter and
// the request filters nothing: no `_source` includes or excludes, no `filter_path`, no `pretty`); JSON.parse
// of the response loses those bytes (whitespace, escapes, number forms). The trail hashes a chained event's
// text as stored, so its reader needs them: this walks the response's JSON text just far enough to cut out
// hits.hits[i]._source (and the hit's _index, _id and sort), without parsing anything else.

/** One hit: its index and id, the `_source` text as stored, and its `sort` values (parsed). */
export interface RawHit {
  index: string | undefined;
  id: string | undefined;
  source: string | undefined;
  sort: unknown[] | undefined;
}

/** A malformed response: never expected from Elasticsearch; named so a caller can say what it read. */
export class RawHitsError extends Error {
  override readonly name = 'RawHitsError';
}

const STRUCTURE = /["{}[\]]/g;

/** The index just past the string whose opening quote is at `at`. */
function stringEnd(text: string, at: number): number {
  let i = at + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0) throw new RawHitsError(`unterminated string at ${at}`);
    let backslashes = 0;
    for (let b = q - 1; text.charCodeAt(b) === 92; b--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    i = q + 1;
  }
}

function skipSpace(text: string, at: number): number {
  let i = at;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else return i;
  }
}

/** The index just past the JSON value that starts at `at` (after any whitespace). */
function valueEnd(text: string, at: number): number {
  const start = skipSpace(text, at);
  const c = text[start];
  if (c === '"') return stringEnd(text, start);
  if (c !== '{' && c !== '[') {
    // A number, true, false or null: up to the next delimiter.
    let i = start;
    while (i < text.length && !',}] \n\r\t'.includes(text[i]!)) i++;
    if (i === start) throw new RawHitsError(`no value at ${start}`);
    return i;
  }
  let depth = 0;
  STRUCTURE.lastIndex = start;
  for (;;) {
    const m = STRUCTURE.exec(text);
    if (!m) throw new RawHitsError(`unterminated ${c} at ${start}`);
    const ch = m[0];
    if (ch === '"') STRUCTURE.lastIndex = stringEnd(text, m.index);
    else if (ch === '{' || ch === '[') depth++;
    else if (--depth === 0) return m.index + 1;
  }
}

/**
 * Calls `onMember(key, valueStart)` for each member of the object at `at`; `onMember` returns the index
 * just past the value (it may read it, or skip it with valueEnd). Returns the index just past the object.
 */
function members(text: string, at: number, onMember: (key: string, valueAt: number) => number): number {
  let i = skipSpace(text, at);
  if (text[i] !== '{') throw new RawHitsError(`expected an object at ${i}`);
  i = skipSpace(text, i + 1);
  if (text[i] === '}') return i + 1;
  for (;;) {
    if (text[i] !== '"') throw new RawHitsError(`expected a key at ${i}`);
    const keyEnd = stringEnd(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text[i] !== ':') throw new RawHitsError(`expected ':' at ${i}`);
    i = skipSpace(text, onMember(key, skipSpace(text, i + 1)));
    if (text[i] === ',') i = skipSpace(text, i + 1);
    else if (text[i] === '}') return i + 1;
    else throw new RawHitsError(`expected ',' or '}' at ${i}`);
  }
}

/** Each element of the array at `at`, as `members` does for an object's members. */
function elements(text: string, at: number, onElement: (valueAt: number) => number): number {
  let i = skipSpace(text, at);
  if (text[i] !== '[') throw new RawHitsError(`expected an array at ${i}`);
  i = skipSpace(text, i + 1);
  if (text[i] === ']') return i + 1;
  for (;;) {
    i = skipSpace(text, onElement(i));
    if (text[i] === ',') i = skipSpace(text, i + 1);
    else if (text[i] === ']') return i + 1;
    else throw new RawHitsError(`expected ',' or ']' at ${i}`);
  }
}

/** The hits of a search response's JSON text, with each `_source` exactly as it appears there. */
export function rawHits(text: string): RawHit[] {
  const hits: RawHit[] = [];
  members(text, 0, (key, at) => {
    if (key !== 'hits') return valueEnd(text, at);
    return members(text, at, (inner, innerAt) => {
      if (inner !== 'hits') return valueEnd(text, innerAt);
      return elements(text, innerAt, (hitAt) => {
        const hit: RawHit = { index: undefined, id: undefined, source: undefined, sort: undefined };
        hits.push(hit);
        return members(text, hitAt, (field, valueAt) => {
          const end = valueEnd(text, valueAt);
          if (field === '_source') hit.source = text.slice(valueAt, end);
          else if (field === 'sort') hit.sort = JSON.parse(text.slice(valueAt, end)) as unknown[];
          else if (field === '_id') hit.id = JSON.parse(text.slice(valueAt, end)) as string;
          else if (field === '_index') hit.index = JSON.parse(text.slice(valueAt, end)) as string;
          return end;
        });
      });
    });
  });
  return hits;
}
