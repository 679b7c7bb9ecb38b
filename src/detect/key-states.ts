// One rule's key states in memory, each packed into ONE string (issue 15: at most 150 bytes per key state).
// A `KeyState` object with its arrays costs about 430 heap bytes (object, array of times with spare
// capacity, boxed doubles, the id string); packed, the same state is one flat one-byte string of
// 12 bytes of header, 9 bytes of fields, 8 bytes per time and the ids, beside the Map entry and its key.
// `get` unpacks a fresh `KeyState`; a change is kept only by `set` (the engine writes back after applying).

import type { KeyState } from './rule-types.ts';
import { NONE } from './rule-types.ts';

// Layout (every char 0..255 is one byte; multi-byte numbers little-endian):
//   [0]      flags: FIRED, SRC, DISTINCT, SCHEDULED
//   [1..8]   wm (float64)
//   fired    float64, when FIRED
//   src, off uint16 index into the interned sources, float64 offset, when SRC
//   n        float64, when SCHEDULED
//   count    uint16: times stored (the cap is at most 1000 values; absence and scheduled keep 1 or 2)
//   t        uint32 each, wm minus the time, when DELTA (every time an integer up to 49 days before wm);
//            else float64 each. When TAIL_WM, one more time equal to wm follows (not stored): the usual
//            case, the newest event of a window rule is its newest time applied.
//   v        when DISTINCT: per value a uint32 length and its chars
//   e        the rest: the contributing ids, space-joined (rule-types.ts `Ids`)
const FIRED = 1;
const SRC = 2;
const DISTINCT = 4;
const SCHEDULED = 8;
const DELTA = 16;
const TAIL_WM = 32;
const MAX_DELTA = 0xffffffff;

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
let scratch = Buffer.allocUnsafe(64 * 1024);

// Bus positions are few (topic/partition pairs): each kept once, referred to by index.
const sources: string[] = [];
const sourceIndex = new Map<string, number>();
function internSource(src: string): number {
  let i = sourceIndex.get(src);
  if (i === undefined) {
    if (sources.length >= 0xffff) throw new Error('more than 65,535 bus partitions in one engine');
    i = sources.length;
    sources.push(src);
    sourceIndex.set(src, i);
  }
  return i;
}

/** Any char outside one byte (then the state is kept as a two-byte string, correct but larger). */
const WIDE = /[^\u0000-\u00ff]/;

export function pack(s: KeyState): string {
  const values = s.v;
  const t = s.t;
  // Rule caps keep at most 2,000 times; a count beyond the uint16 field would corrupt the state silently.
  if (t.length > 0xffff) throw new Error(`a key state holds ${t.length} times; at most 65,535 can be kept`);
  let size = 1 + 8 + 8 + 10 + 8 + 2 + 8 * t.length + s.e.length;
  let wide = WIDE.test(s.e);
  if (values) {
    for (const v of values) {
      size += 4 + v.length;
      if (!wide && WIDE.test(v)) wide = true;
    }
  }
  if (scratch.length < size) scratch = Buffer.allocUnsafe(Math.max(size, scratch.length * 2));
  const b = scratch;
  let flags = 0;
  if (s.fired !== NONE) flags |= FIRED;
  if (s.src !== undefined) flags |= SRC;
  if (values) flags |= DISTINCT;
  if (s.n !== undefined) flags |= SCHEDULED;
  let stored = t.length;
  if (stored > 0 && t[stored - 1] === s.wm) {
    flags |= TAIL_WM;
    stored--;
  }
  if (Number.isInteger(s.wm)) {
    let delta = true;
    for (let i = 0; i < stored && delta; i++) {
      const d = s.wm - t[i]!;
      delta = Number.isInteger(d) && d >= 0 && d <= MAX_DELTA;
    }
    if (delta) flags |= DELTA;
  }
  b[0] = flags;
  let p = b.writeDoubleLE(s.wm, 1);
  if (flags & FIRED) p = b.writeDoubleLE(s.fired, p);
  if (flags & SRC) {
    p = b.writeUInt16LE(internSource(s.src!), p);
    p = b.writeDoubleLE(s.off, p);
  }
  if (flags & SCHEDULED) p = b.writeDoubleLE(s.n!, p);
  p = b.writeUInt16LE(stored, p);
  if (flags & DELTA) for (let i = 0; i < stored; i++) p = b.writeUInt32LE(s.wm - t[i]!, p);
  else for (let i = 0; i < stored; i++) p = b.writeDoubleLE(t[i]!, p);
  if (!wide) {
    if (values) {
      for (const v of values) {
        p = b.writeUInt32LE(v.length, p);
        p += b.write(v, p, 'latin1');
      }
    }
    p += b.write(s.e, p, 'latin1');
    return b.toString('latin1', 0, p); // a flat one-byte string
  }
  // Rare: a value or id beyond Latin-1. The same layout, joined (join gives a flat string).
  const parts = [b.toString('latin1', 0, p)];
  for (const v of values ?? []) {
    b.writeUInt32LE(v.length, 0);
    parts.push(b.toString('latin1', 0, 4), v);
  }
  parts.push(s.e);
  return parts.join('');
}

function double(x: string, p: number): number {
  for (let i = 0; i < 8; i++) f64Bytes[i] = x.charCodeAt(p + i);
  return f64[0]!;
}

function u16(x: string, p: number): number {
  return x.charCodeAt(p) | (x.charCodeAt(p + 1) << 8);
}

function u32(x: string, p: number): number {
  return (u16(x, p) | (u16(x, p + 2) << 16)) >>> 0;
}

export function unpack(x: string): KeyState {
  const flags = x.charCodeAt(0);
  const wm = double(x, 1);
  let p = 9;
  let fired = NONE;
  if (flags & FIRED) {
    fired = double(x, p);
    p += 8;
  }
  let src: string | undefined;
  let off = -1;
  if (flags & SRC) {
    src = sources[u16(x, p)];
    off = double(x, p + 2);
    p += 10;
  }
  let n: number | undefined;
  if (flags & SCHEDULED) {
    n = double(x, p);
    p += 8;
  }
  const stored = u16(x, p);
  p += 2;
  const count = flags & TAIL_WM ? stored + 1 : stored;
  const t = new Array<number>(count);
  if (flags & DELTA) for (let i = 0; i < stored; i++, p += 4) t[i] = wm - u32(x, p);
  else for (let i = 0; i < stored; i++, p += 8) t[i] = double(x, p);
  if (flags & TAIL_WM) t[stored] = wm;
  let v: string[] | undefined;
  if (flags & DISTINCT) {
    v = new Array<string>(count);
    for (let i = 0; i < count; i++) {
      const len = u32(x, p);
      v[i] = x.slice(p + 4, p + 4 + len);
      p += 4 + len;
    }
  }
  const s: KeyState = { t, v, e: x.slice(p), wm, fired, src, off };
  if (n !== undefined) s.n = n;
  return s;
}

/** Newest event time applied and last firing, without unpacking the rest (pruning reads only these). */
export function times(x: string): { wm: number; fired: number } {
  return { wm: double(x, 1), fired: x.charCodeAt(0) & FIRED ? double(x, 9) : NONE };
}

/**
 * The key states of one rule: key → packed state, in last-touched order (insertion order; the engine
 * deletes and re-sets a key it touches, so the front expires first). The Map API the engine used.
 */
export class KeyStates {
  readonly #m = new Map<string, string>();

  get size(): number {
    return this.#m.size;
  }

  has(key: string): boolean {
    return this.#m.has(key);
  }

  /** A fresh copy: changes to it are kept only by `set`. */
  get(key: string): KeyState | undefined {
    const x = this.#m.get(key);
    return x === undefined ? undefined : unpack(x);
  }

  /** Stores `s` (an existing key keeps its place, as with a Map). */
  set(key: string, s: KeyState): this {
    this.#m.set(key, pack(s));
    return this;
  }

  delete(key: string): boolean {
    return this.#m.delete(key);
  }

  clear(): void {
    this.#m.clear();
  }

  keys(): IterableIterator<string> {
    return this.#m.keys();
  }

  /** Packed entries, for reading `times` without unpacking. */
  packed(): IterableIterator<[string, string]> {
    return this.#m.entries();
  }

  *[Symbol.iterator](): IterableIterator<[string, KeyState]> {
    for (const [key, x] of this.#m) yield [key, unpack(x)];
  }
}
