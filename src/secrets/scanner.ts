// Streaming secret scanner for build logs.
//
// Per line: clean (ANSI escapes, CI timestamp prefix, trailing CR) → one Aho–Corasick pass that both
// finds rule keywords and notes base64 / hex / percent-encoded runs → only the hit rules' regexes →
// entropy floor → placeholder / masked-value allowlist → overlap resolution (specific rules win) →
// decode-and-rescan of encoded candidates (bounded depth and length). PEM blocks that span lines are
// assembled by StreamScanner. A Finding never holds the secret or the raw line: only a masked preview and
// a keyed HMAC fingerprint.
import { createHmac } from 'node:crypto';
import type { Severity } from '../alerting/types.ts';
import { KeywordAutomaton } from './aho-corasick.ts';
import {
  isPlaceholder,
  type MatchContext,
  RULES,
  type SecretRule,
  shannonEntropy,
  type Tier,
} from './rules.ts';

export interface Finding {
  ruleId: string;
  title: string;
  severity: Severity;
  tier: Tier;
  job: string;
  /** 1-based line number in the stream. */
  line: number;
  /** 1-based column of the secret in the line once ANSI escape sequences are removed. */
  column: number;
  /** The token's known prefix and at most its last 4 characters, e.g. `ghp_…a1B2`. */
  preview: string;
  /** HMAC-SHA256 (hex) of the secret under the deployment's fingerprint key. */
  fingerprint: string;
  /** Set when the secret was found inside an encoded value, e.g. `base64` or `percent+base64`. */
  encoding?: string;
}

/** One accepted match inside a piece of text (internal: holds the secret). */
interface RawMatch {
  rule: number;
  /** Whole match (used to resolve overlaps between rules). */
  start: number;
  end: number;
  /** The span that is the secret in this text (for an encoded secret: the whole encoded value). */
  secretStart: number;
  secretEnd: number;
  secret: string;
  /** For a secret found inside a decoded value: the decoded match (for the preview). */
  decodedMatch?: string;
  encoding?: string;
  /** Already reported (the second line of a wrapped token): redact only. */
  reported?: boolean;
}

export interface EngineOptions {
  rules?: readonly SecretRule[];
  /** How many nested encodings are unwrapped (base64 inside percent-encoding = 2). Default 2. */
  decodeDepth?: number;
}

const NONE: readonly RawMatch[] = Object.freeze([]);
const MIN_B64_RUN = 24; // base64 of a 16-character secret
const MIN_HEX_RUN = 32; // hex of a 16-character secret
const MAX_ENCODED = 4096; // longer encoded blobs are not decoded (bounded work per line)
const MAX_DECODED_PER_TEXT = 16; // at most this many decode attempts per line

// Character classes for the run counters in the prefilter loop.
const C_B64 = 1;
const C_HEX = 2;
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9+/_-]/.test(ch)) CLASS[c]! |= C_B64;
  if (/[0-9a-fA-F]/.test(ch)) CLASS[c]! |= C_HEX;
}

const B64_CANDIDATE = /[A-Za-z0-9+/_-]{24,4096}={0,2}/g;
const HEX_CANDIDATE = /[0-9a-fA-F]{32,4096}/g;
const PERCENT = /%[0-9A-Fa-f]{2}/g;

/** The compiled rule set: one automaton and the rules' regexes. Stateless; share one per process. */
export class SecretEngine {
  readonly rules: readonly SecretRule[];
  private readonly automaton: KeywordAutomaton;
  private readonly always: readonly number[];
  /** The rules' regexes recompiled with the `d` flag, for the exact position of the `secret` group. */
  private readonly regexes: readonly RegExp[];
  private readonly decodeDepth: number;
  private readonly hitGen: Uint32Array;
  private gen = 0;
  readonly privateKeyRule: number;

  constructor(options: EngineOptions = {}) {
    this.rules = options.rules ?? RULES;
    this.decodeDepth = options.decodeDepth ?? 2;
    const kws: string[] = [];
    const payload: number[] = [];
    const always: number[] = [];
    this.rules.forEach((r, i) => {
      if (!r.regex.global) throw new Error(`Rule ${r.id}: regex must be global.`);
      if (r.keywords.length === 0) always.push(i);
      for (const k of r.keywords) {
        kws.push(k.toLowerCase());
        payload.push(i);
      }
    });
    this.automaton = new KeywordAutomaton(kws, payload);
    this.always = always;
    this.regexes = this.rules.map(
      (r) => new RegExp(r.regex.source, r.regex.flags.includes('d') ? r.regex.flags : `${r.regex.flags}d`),
    );
    this.hitGen = new Uint32Array(this.rules.length);
    this.privateKeyRule = this.rules.findIndex((r) => r.id === 'private-key');
  }

  /** Every secret in one piece of text (a cleaned line or a decoded value). Internal: holds secrets. */
  match(text: string, depth = 0): readonly RawMatch[] {
    const { delta, hasOutput, outputs } = this.automaton;
    // One pass: keyword automaton + longest base64 / hex runs + presence of `%`.
    let s = 0;
    let b64 = 0;
    let hex = 0;
    let encoded = false;
    let pct = false;
    let hits: number[] | undefined;
    const gen = ++this.gen;
    const hitGen = this.hitGen;
    for (let i = 0, n = text.length; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 128) {
        s = 0;
        b64 = 0;
        hex = 0;
        continue;
      }
      s = delta[(s << 7) | c]!;
      if (hasOutput[s] === 1) {
        for (const r of outputs[s]!) {
          if (hitGen[r] !== gen) {
            hitGen[r] = gen;
            if (hits === undefined) hits = [r];
            else hits.push(r);
          }
        }
      }
      const k = CLASS[c]!;
      if (k & C_B64) {
        if (++b64 >= MIN_B64_RUN) encoded = true;
      } else {
        b64 = 0;
        if (c === 37) pct = true;
      }
      if (k & C_HEX) {
        if (++hex >= MIN_HEX_RUN) encoded = true;
      } else hex = 0;
    }
    if (hits === undefined && this.always.length === 0 && !(depth < this.decodeDepth && (encoded || pct))) {
      return NONE;
    }

    let found: RawMatch[] = [];
    if (hits !== undefined) for (const r of hits) this.runRule(r, text, found);
    for (const r of this.always) this.runRule(r, text, found);
    if (found.length > 1) found = resolveOverlaps(found);
    if (depth < this.decodeDepth && (encoded || pct)) this.decodeAndRescan(text, depth, found, encoded, pct);
    return found.length === 0 ? NONE : found;
  }

  private runRule(ri: number, text: string, out: RawMatch[]): void {
    const rule = this.rules[ri]!;
    const re = this.regexes[ri]!;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const groups = m.indices?.groups;
      const span = groups?.secret ?? groups?.secret2;
      let secretStart = m.index;
      let secretEnd = m.index + m[0].length;
      if (span !== undefined) [secretStart, secretEnd] = span;
      const end = m.index + m[0].length;
      const accepted = secretEnd;
      if (rule.extend === true) secretEnd = valueEnd(text, secretStart, secretEnd);
      const secret = text.slice(secretStart, secretEnd);
      if (!this.accept(rule, secret, accepted - secretStart)) continue;
      if (rule.check !== undefined) {
        const name = groups?.name;
        const ctx: MatchContext = {
          text,
          start: m.index,
          end,
          secretStart,
          secretEnd,
          secret,
          matchedEnd: accepted,
          nameStart: name?.[0] ?? m.index,
          nameEnd: name?.[1] ?? m.index,
        };
        if (!rule.check(ctx)) continue;
      }
      out.push({ rule: ri, start: m.index, end: Math.max(end, secretEnd), secretStart, secretEnd, secret });
    }
  }

  /** `matched`: how much of the secret the regex itself accepted (the rest is its extension). */
  private accept(rule: SecretRule, secret: string, matched: number): boolean {
    const core = matched < secret.length ? secret.slice(0, matched) : secret;
    if (rule.entropy !== undefined && shannonEntropy(core) < rule.entropy) return false;
    if (isPlaceholder(secret, rule.tier) || (core !== secret && isPlaceholder(core, rule.tier))) return false;
    if (rule.validate !== undefined && !rule.validate(secret)) return false;
    return true;
  }

  /** Decode base64 / hex / percent-encoded values not already claimed by a rule, and scan the result. */
  private decodeAndRescan(
    text: string,
    depth: number,
    found: RawMatch[],
    b64hex: boolean,
    pct: boolean,
  ): void {
    const claimed = found.slice();
    const overlapsClaimed = (a: number, b: number): boolean => claimed.some((f) => a < f.end && f.start < b);
    let attempts = 0;
    const tryDecoded = (decoded: string | undefined, start: number, end: number, encoding: string): void => {
      if (decoded === undefined || decoded.length < 12) return;
      for (const sub of this.match(decoded, depth + 1)) {
        found.push({
          rule: sub.rule,
          start,
          end,
          secretStart: start,
          secretEnd: end,
          secret: sub.secret,
          decodedMatch: sub.decodedMatch ?? decoded.slice(sub.start, sub.end),
          encoding: sub.encoding === undefined ? encoding : `${encoding}+${sub.encoding}`,
        });
      }
    };
    if (b64hex) {
      HEX_CANDIDATE.lastIndex = 0;
      for (
        let m = HEX_CANDIDATE.exec(text);
        m !== null && attempts < MAX_DECODED_PER_TEXT;
        m = HEX_CANDIDATE.exec(text)
      ) {
        const v = m[0];
        if (v.length % 2 !== 0 || v.length > MAX_ENCODED || overlapsClaimed(m.index, m.index + v.length))
          continue;
        if (!looksLikeHexText(v)) continue;
        attempts++;
        tryDecoded(printable(Buffer.from(v, 'hex')), m.index, m.index + v.length, 'hex');
        HEX_CANDIDATE.lastIndex = m.index + v.length; // the nested scan reused the shared regex
        claimed.push({
          rule: -1,
          start: m.index,
          end: m.index + v.length,
          secretStart: 0,
          secretEnd: 0,
          secret: '',
        });
      }
      B64_CANDIDATE.lastIndex = 0;
      for (
        let m = B64_CANDIDATE.exec(text);
        m !== null && attempts < MAX_DECODED_PER_TEXT;
        m = B64_CANDIDATE.exec(text)
      ) {
        const v = m[0];
        if (v.length > MAX_ENCODED || overlapsClaimed(m.index, m.index + v.length)) continue;
        // Base64 of text mixes cases (a digit is not required: `QUtJQU…` hides an AWS key id); paths,
        // words and hex hashes do not. CamelCase identifiers decode to binary and are dropped below.
        if (!/[A-Z]/.test(v) || !/[a-z]/.test(v) || !looksLikeB64Text(v)) continue;
        attempts++;
        tryDecoded(printable(Buffer.from(v, 'base64')), m.index, m.index + v.length, 'base64');
        B64_CANDIDATE.lastIndex = m.index + v.length;
      }
    }
    if (pct) {
      PERCENT.lastIndex = 0;
      let lastEnd = -1;
      for (
        let m = PERCENT.exec(text);
        m !== null && attempts < MAX_DECODED_PER_TEXT;
        m = PERCENT.exec(text)
      ) {
        if (m.index < lastEnd) continue;
        // Widen to the whitespace- or quote-delimited token around the escape.
        let a = m.index;
        let b = m.index + 3;
        while (a > 0 && m.index - a < MAX_ENCODED && !isDelimiter(text.charCodeAt(a - 1))) a--;
        while (b < text.length && b - m.index < MAX_ENCODED && !isDelimiter(text.charCodeAt(b))) b++;
        lastEnd = b;
        if (overlapsClaimed(a, b)) continue;
        let decoded: string;
        try {
          decoded = decodeURIComponent(text.slice(a, b).replace(/\+/g, ' '));
        } catch {
          continue;
        }
        attempts++;
        tryDecoded(decoded, a, b, 'percent');
        PERCENT.lastIndex = b;
      }
    }
  }
}

function isDelimiter(c: number): boolean {
  return c <= 32 || c === 34 || c === 39 || c === 96 || c === 60 || c === 62;
}

const MAX_EXTENT = 1024;

/**
 * The end of a value whose delimiters the rule could not know: inside quotes, the closing quote (an
 * unterminated quote: the end of the line); after `>` (an XML element), the next `<`; otherwise the end of
 * the unquoted token (the next whitespace). Never before `end`.
 */
export function valueEnd(text: string, start: number, end: number): number {
  const limit = Math.min(text.length, start + MAX_EXTENT);
  const q = openingQuote(text, start);
  if (q !== -1) {
    const quote = text.charCodeAt(q);
    for (let i = start; i < limit; i++) {
      const c = text.charCodeAt(i);
      if (c === 92)
        i++; // backslash escape
      else if (c === quote) return Math.max(end, i);
    }
    return Math.max(end, limit);
  }
  if (start > 0 && text.charCodeAt(start - 1) === 62) {
    const lt = text.indexOf('<', start);
    return Math.max(end, lt === -1 ? limit : Math.min(lt, limit));
  }
  let i = end;
  while (i < limit && text.charCodeAt(i) > 32) i++;
  return i;
}

/**
 * The quote that opens the string holding `pos` (read from the start of the text: single, double and
 * back quotes, a backslash escapes the next character outside single quotes), or -1 when `pos` is not
 * inside quotes.
 */
function openingQuote(text: string, pos: number): number {
  let open = -1;
  let quote = 0;
  for (let i = 0; i < pos; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 && quote !== 39) i++;
    else if (quote === 0) {
      if (c === 34 || c === 39 || c === 96) {
        quote = c;
        open = i;
      }
    } else if (c === quote) quote = 0;
  }
  return quote === 0 ? -1 : open;
}

// Look-back patterns (anchored, bounded).
const XML_OPEN_ALONE = /^\s{0,40}<([A-Za-z][A-Za-z0-9_.:-]{0,60})>\s{0,8}$/;
const KV_NAME =
  /^\s{0,40}-?\s{0,4}["']?name["']?\s{0,4}[:=]\s{0,4}["']?([A-Za-z0-9_.-]{1,80})["']?\s{0,4},?\s{0,4}$/;
const KV_VALUE = /^\s{0,40}-?\s{0,4}["']?value["']?\s{0,4}[:=]\s{0,4}/;
const SECRET_NAME =
  /pass(?:word|wd|phrase)?|pwd|secret|token|api[_.-]?key|access[_.-]?key|private[_.-]?key|credential|creds|auth/i;

/** The last character that is not whitespace (-1 for a blank text). */
function lastNonSpace(text: string): number {
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c > 32) return c;
  }
  return -1;
}

/** Token characters for wrapped-token joining (no `=`, `.` or `:`: a name and its value never join). */
function isTokenChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) ||
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    c === 95 ||
    c === 45 ||
    c === 43 ||
    c === 47
  );
}

/** Start of the run of token characters that ends the text (at most 300 characters back). */
function tokenTailStart(text: string): number {
  let i = text.length;
  while (i > 0 && text.length - i < 300 && isTokenChar(text.charCodeAt(i - 1))) i--;
  return i;
}

/** Length of the run of token characters that starts the text (at most 300). */
function tokenHeadLength(text: string): number {
  let i = 0;
  while (i < text.length && i < 300 && isTokenChar(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Cheap test before allocating: base64 of printable ASCII starts every 4-character group with `I`–`Z` or
 * `a`–`f` (the top 6 bits of a byte 0x20–0x7e). One miss in the first 16 groups is tolerated (a newline).
 */
function looksLikeB64Text(v: string): boolean {
  let misses = 0;
  for (let i = 0; i < v.length && i < 64; i += 4) {
    const c = v.charCodeAt(i);
    if (!((c >= 73 && c <= 90) || (c >= 97 && c <= 102)) && ++misses > 1) return false;
  }
  return true;
}

/** Cheap test before allocating: the first bytes of the decoded hex are printable ASCII. */
function looksLikeHexText(v: string): boolean {
  for (let i = 0; i < 8 && i < v.length; i += 2) {
    const byte = Number.parseInt(v.slice(i, i + 2), 16);
    if (byte < 0x09 || byte > 0x7e || (byte > 0x0d && byte < 0x20)) return false;
  }
  return true;
}

/** The bytes as text when at least 95 % of them are printable ASCII or whitespace. */
function printable(buf: Buffer): string | undefined {
  if (buf.length === 0) return undefined;
  let bad = 0;
  const limit = buf.length * 0.05;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b > 0x7e) {
      if (++bad > limit) return undefined;
    }
  }
  return buf.toString('latin1');
}

/** Keep the highest-priority match (lowest rule index) among overlapping ones. */
function resolveOverlaps(found: RawMatch[]): RawMatch[] {
  const byPriority = found.slice().sort((a, b) => a.rule - b.rule || a.start - b.start);
  const kept: RawMatch[] = [];
  for (const f of byPriority) {
    if (!kept.some((k) => f.start < k.end && k.start < f.end)) kept.push(f);
  }
  return kept.sort((a, b) => a.start - b.start);
}

// ── Line cleaning ─────────────────────────────────────────────────────────────────────────────────────

// CSI sequences (colours, `\e[0K`), OSC sequences (hyperlinks, titles) and two-byte escapes.
const ANSI = /\x1b(?:\[[0-?]{0,32}[ -/]{0,8}[@-~]|\][^\x07\x1b]{0,2048}(?:\x07|\x1b\\)|[@-Z\\-_])/g;
// GitHub Actions `2024-01-01T00:00:00.0000000Z ` and GitLab `2024-01-01T00:00:00.000000Z 00O+ ` prefixes.
const CI_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z (?:\d{2}[OE]\+? )?/;

export interface CleanLine {
  /** Text to scan (escape codes removed, CI timestamp prefix and trailing CR dropped). */
  text: string;
  /** Position of text[0] in the ANSI-stripped line (the timestamp's length). */
  offset: number;
  /** The ANSI-stripped line, for redaction. */
  stripped: string;
}

/**
 * Clean one raw log line. `\r` progress segments are NOT discarded: the overwritten text is still in the
 * stored log, so every segment is scanned (`\r` is whitespace to every rule, so segments never merge).
 */
export function cleanLine(raw: string, atLineStart = true): CleanLine {
  let stripped = raw.includes('\x1b') ? raw.replace(ANSI, '') : raw;
  if (stripped.endsWith('\r')) stripped = stripped.slice(0, -1);
  let offset = 0;
  if (
    atLineStart &&
    stripped.length > 20 &&
    stripped.charCodeAt(4) === 45 &&
    stripped.charCodeAt(10) === 84
  ) {
    const ts = CI_TIMESTAMP.exec(stripped);
    if (ts !== null) offset = ts[0].length;
  }
  return { text: offset === 0 ? stripped : stripped.slice(offset), offset, stripped };
}

// ── Masking and fingerprints ─────────────────────────────────────────────────────────────────────────

/** The rule's known prefix and at most the last 4 characters; short secrets show less. */
export function maskSecret(rule: SecretRule, secret: string): string {
  const p = Math.min(rule.prefix ?? 0, Math.floor(secret.length / 2));
  const rest = secret.length - p;
  const tail = rest >= 20 ? 4 : rest >= 12 ? 2 : 0;
  return `${secret.slice(0, p)}…${tail > 0 ? secret.slice(-tail) : ''}`;
}

function previewOf(rule: SecretRule, secret: string, match: string): string {
  return rule.preview !== undefined ? rule.preview(match) : maskSecret(rule, secret);
}

/** The part of a private key that identifies it, the same whether printed on many lines or one. */
function normaliseKeyBody(body: string): string {
  return body.replace(/\\[nr]/g, '').replace(/[^A-Za-z0-9+/=]/g, '');
}

// ── Redaction ────────────────────────────────────────────────────────────────────────────────────────

let defaultEngine: SecretEngine | undefined;
function getDefaultEngine(): SecretEngine {
  defaultEngine ??= new SecretEngine();
  return defaultEngine;
}

/**
 * The line with every secret replaced by its masked preview (ANSI escapes removed when anything is
 * replaced; returned unchanged otherwise). For text we keep; it does not see multi-line PEM bodies — use
 * `StreamScanner` with `redact: true` for whole logs.
 */
export function redactLine(line: string, engine: SecretEngine = getDefaultEngine()): string {
  const c = cleanLine(line);
  const found = engine.match(c.text);
  if (found.length === 0) return line;
  return applyRedactions(c.stripped, c.offset, found, engine.rules);
}

function applyRedactions(
  stripped: string,
  offset: number,
  found: readonly RawMatch[],
  rules: readonly SecretRule[],
): string {
  const spans = found
    .map((f) => ({
      a: offset + f.secretStart,
      b: offset + f.secretEnd,
      mask: redactionMask(rules[f.rule]!, f),
    }))
    .sort((x, y) => x.a - y.a);
  let out = '';
  let at = 0;
  for (const s of spans) {
    if (s.a < at) continue; // nested in a span already replaced (decoded values)
    out += stripped.slice(at, s.a) + s.mask;
    at = s.b;
  }
  return out + stripped.slice(at);
}

function redactionMask(rule: SecretRule, f: RawMatch): string {
  if (rule.id === 'private-key') return '[private key redacted]';
  const m = maskSecret(rule, f.secret);
  return f.encoding === undefined ? m : `[${f.encoding}:${m}]`;
}

// ── Streaming ────────────────────────────────────────────────────────────────────────────────────────

export interface StreamScannerOptions {
  /** Per-deployment HMAC key for fingerprints (at least 16 bytes). Required: there is no default. */
  fingerprintKey: string | Uint8Array;
  /** The CI job the stream belongs to; copied into every finding. */
  job: string;
  /** Fingerprints (hex) that are known and accepted: not reported. */
  suppressFingerprints?: Iterable<string>;
  /** Rule ids that are not reported. */
  suppressRules?: Iterable<string>;
  /** A shared compiled engine (compile once per process). */
  engine?: SecretEngine;
  /** Lines longer than this are scanned in overlapping windows. Default 16 KiB. */
  maxLineLength?: number;
  /** Overlap between windows; must exceed the longest secret a rule can match. Default 4 KiB. */
  windowOverlap?: number;
  /** Keep a redacted copy of the stream, read with `takeRedacted()`. */
  redact?: boolean;
}

interface PemBlock {
  line: number;
  column: number;
  marker: string;
  body: string;
  lines: number;
}

const PEM_BEGIN = /-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----/;
const PEM_MAX_BODY = 16_384;
const PEM_MAX_LINES = 400;
const MIN_KEY_BODY = 64;

/**
 * Feed a build log in chunks of any size; get findings as lines complete. Memory stays bounded whatever
 * the input: an unterminated line is scanned in windows as it grows, only the overlap is carried.
 */
export class StreamScanner {
  private readonly engine: SecretEngine;
  private readonly key: Uint8Array | string;
  private readonly job: string;
  private readonly suppressFp: ReadonlySet<string>;
  private readonly suppressRule: ReadonlySet<string>;
  private readonly maxLine: number;
  private readonly overlap: number;
  private readonly redact: boolean;
  private carry = '';
  /** Column (0-based, raw) where `carry` starts in its line: > 0 once a long line was partly scanned. */
  private carryCol = 0;
  private lineNo = 1;
  private pem: PemBlock | undefined;
  private seenOnLine = new Set<string>();
  /** Look-back state (bounded: one name, one flag, one held line). */
  private pendingName: { name: string; kind: 'xml' | 'kv'; ttl: number } | undefined;
  private curlContinues = false;
  private wrapTail: { text: string; line: number; colBase: number } | undefined;
  /** The redacted text of a line whose last token may continue on the next line (redact mode). */
  private held: { stripped: string; offset: number; found: RawMatch[]; suffix: string } | undefined;
  private redacted: string[] = [];
  /** Characters at the start of the next window already written to the redacted output. */
  private redactSkip = 0;

  constructor(options: StreamScannerOptions) {
    const k = options.fingerprintKey;
    if (k === undefined || (typeof k === 'string' ? Buffer.byteLength(k) : k.byteLength) < 16) {
      throw new Error('fingerprintKey must be at least 16 bytes.');
    }
    this.key = k;
    this.job = options.job;
    this.engine = options.engine ?? getDefaultEngine();
    this.suppressFp = new Set(options.suppressFingerprints ?? []);
    this.suppressRule = new Set(options.suppressRules ?? []);
    this.maxLine = options.maxLineLength ?? 16_384;
    this.overlap = options.windowOverlap ?? 4_096;
    if (this.overlap * 2 > this.maxLine)
      throw new Error('windowOverlap must be at most half of maxLineLength.');
    this.redact = options.redact ?? false;
  }

  push(chunk: string): Finding[] {
    const out: Finding[] = [];
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      const piece = chunk.slice(start, nl);
      const line = this.carry.length > 0 ? this.carry + piece : piece;
      this.carry = '';
      this.completeLine(line, out);
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.carry += start === 0 ? chunk : chunk.slice(start);
      // Bounded memory: scan the settled head of an over-long unterminated line now, carry the overlap.
      const step = this.maxLine - this.overlap;
      while (this.carry.length > this.maxLine + step) {
        this.scanWindow(this.carry.slice(0, this.maxLine), this.carryCol, step, out);
        this.carry = this.carry.slice(step);
        this.carryCol += step;
      }
    }
    return out;
  }

  end(): Finding[] {
    const out: Finding[] = [];
    if (this.carry.length > 0 || this.carryCol > 0) {
      const line = this.carry;
      this.carry = '';
      this.completeLine(line, out, false);
    }
    this.finishPem(out);
    this.flushHeld();
    return out;
  }

  /** The redacted text of every line completed so far (only with `redact: true`), and forget it. */
  takeRedacted(): string {
    const s = this.redacted.join('');
    this.redacted = [];
    return s;
  }

  private completeLine(line: string, out: Finding[], newline = true): void {
    if (line.length <= this.maxLine && this.carryCol === 0) {
      this.scanLine(line, out);
    } else {
      this.flushHeld();
      this.wrapTail = undefined;
      const step = this.maxLine - this.overlap;
      for (let off = 0; ; off += step) {
        const last = off + this.maxLine >= line.length;
        this.scanWindow(
          line.slice(off, off + this.maxLine),
          this.carryCol + off,
          last ? Infinity : step,
          out,
        );
        if (last) break;
      }
    }
    if (this.redact && newline) {
      if (this.held !== undefined) this.held.suffix = '\n';
      else this.redacted.push('\n');
    }
    this.redactSkip = 0;
    this.lineNo++;
    this.carryCol = 0;
    this.seenOnLine = new Set();
  }

  /** A whole line of normal length: PEM block tracking, rules, redaction. */
  private scanLine(line: string, out: Finding[]): void {
    const atStart = this.carryCol === 0;
    const c = cleanLine(line, atStart);
    const colBase = this.carryCol + c.offset;
    let swallowed = false;
    if (this.pem !== undefined) swallowed = this.feedPem(c.text, out);
    let found = this.engine.match(c.text);
    const extra = this.lookBack(c.text, found, colBase, out);
    if (extra.length > 0) found = [...found, ...extra].sort((a, b) => a.start - b.start);
    let sawKey = false;
    for (const f of found) {
      if (f.rule === this.engine.privateKeyRule) sawKey = true;
      if (f.reported !== true) this.emit(f, c.text, colBase, out);
    }
    // A BEGIN line without its body on the same line opens a multi-line block.
    if (!sawKey && this.pem === undefined && c.text.includes('-----BEGIN')) {
      const m = PEM_BEGIN.exec(c.text);
      if (m !== null && !c.text.includes('-----END', m.index)) {
        this.pem = { line: this.lineNo, column: colBase + m.index + 1, marker: m[0], body: '', lines: 0 };
      }
    }
    if (this.redact) {
      if (swallowed) this.redacted.push(`${c.stripped.slice(0, c.offset)}[private key redacted]`);
      else if (this.wrapTail !== undefined && this.wrapTail.line === this.lineNo) {
        // Its last token may continue on the next line: hold it until that line is seen.
        this.held = { stripped: c.stripped, offset: c.offset, found: found.slice(), suffix: '' };
      } else {
        this.redacted.push(
          found.length > 0 ? applyRedactions(c.stripped, c.offset, found, this.engine.rules) : line,
        );
      }
    }
  }

  /**
   * Secrets split from their name or over two lines, found with a little state carried from the lines
   * before: a Kubernetes / ECS env entry (`- name: DB_PASSWORD` then `value: …`), an XML element whose
   * value sits on its own line, a curl command continued with `\`, and a token a terminal wrapped.
   * Returns matches in this line's coordinates (wrapped tokens are reported here, at their first line).
   */
  private lookBack(text: string, found: readonly RawMatch[], colBase: number, out: Finding[]): RawMatch[] {
    const extra: RawMatch[] = [];
    const add = (synth: string, offset: number, prefixLen: number, only?: (id: string) => boolean): void => {
      for (const f of this.engine.match(synth)) {
        if (f.secretStart < prefixLen) continue;
        if (only !== undefined && !only(this.engine.rules[f.rule]!.id)) continue;
        const a = f.secretStart + offset;
        const b = f.secretEnd + offset;
        if (found.some((x) => a < x.secretEnd && x.secretStart < b)) continue;
        extra.push({ ...f, start: Math.max(0, f.start + offset), end: b, secretStart: a, secretEnd: b });
      }
    };
    // 1. A name announced on an earlier line.
    const pending = this.pendingName;
    if (pending !== undefined) {
      const trimmed = text.trim();
      if (pending.kind === 'xml' && trimmed.length > 0) {
        this.pendingName = undefined;
        if (!trimmed.startsWith('<')) {
          const at = text.indexOf(trimmed);
          const prefix = `<${pending.name}>`;
          add(`${prefix}${trimmed}`, at - prefix.length, prefix.length);
        }
      } else if (pending.kind === 'kv') {
        const v = KV_VALUE.exec(text);
        if (v !== null) {
          this.pendingName = undefined;
          const prefix = `${pending.name}: `;
          add(`${prefix}${text.slice(v[0].length)}`, v[0].length - prefix.length, prefix.length);
        } else if (--pending.ttl <= 0) this.pendingName = undefined;
      }
    }
    const last = lastNonSpace(text);
    const xml = last === 62 ? XML_OPEN_ALONE.exec(text) : null; // `>`
    const kv = xml === null && text.includes('name') ? KV_NAME.exec(text) : null;
    const name = xml?.[1] ?? kv?.[1];
    if (name !== undefined && SECRET_NAME.test(name)) {
      this.pendingName = { name, kind: xml !== null ? 'xml' : 'kv', ttl: 2 };
    }
    // 2. curl options continued on the next line with a trailing backslash.
    if (this.curlContinues) {
      add(`curl ${text}`, -5, 5, (id) => id === 'generic-curl-user');
    }
    const endsWithBackslash = last === 92;
    this.curlContinues = endsWithBackslash && (this.curlContinues || text.includes('curl'));
    // 3. A token wrapped by a terminal: the previous line ended inside a token, this one goes on with it.
    const tail = this.wrapTail;
    this.wrapTail = undefined;
    if (tail !== undefined && tail.line === this.lineNo - 1) {
      const headLen = tokenHeadLength(text);
      if (headLen >= 4) {
        const joined = tail.text + text.slice(0, headLen);
        for (const f of this.engine.match(joined)) {
          if (f.secretStart >= tail.text.length || f.secretEnd <= tail.text.length) continue;
          this.reportWrapped(f, joined, tail, out);
          // This line's part of the secret is redacted here.
          const b = f.secretEnd - tail.text.length;
          extra.push({ ...f, start: 0, end: b, secretStart: 0, secretEnd: b, reported: true });
        }
      }
    }
    if (this.held !== undefined) this.flushHeld();
    if (text.length >= 40) {
      const from = tokenTailStart(text);
      if (text.length - from >= 12) {
        this.wrapTail = { text: text.slice(from), line: this.lineNo, colBase: colBase + from };
      }
    }
    return extra;
  }

  /** A secret wrapped over two lines: report it at its first line, mark the held line's part. */
  private reportWrapped(
    f: RawMatch,
    joined: string,
    tail: { text: string; line: number; colBase: number },
    out: Finding[],
  ): void {
    const rule = this.engine.rules[f.rule]!;
    const preview = previewOf(rule, f.secret, f.decodedMatch ?? joined.slice(f.start, f.end));
    this.report(rule, f.secret, preview, tail.line, tail.colBase + f.secretStart + 1, f.encoding, out);
    const h = this.held;
    if (h !== undefined) {
      const lineStart = h.stripped.length - tail.text.length - h.offset;
      h.found.push({
        ...f,
        start: lineStart + f.start,
        end: h.stripped.length - h.offset,
        secretStart: lineStart + f.secretStart,
        secretEnd: h.stripped.length - h.offset,
      });
    }
  }

  private flushHeld(): void {
    const h = this.held;
    if (h === undefined) return;
    this.held = undefined;
    const r =
      h.found.length > 0 ? applyRedactions(h.stripped, h.offset, h.found, this.engine.rules) : h.stripped;
    this.redacted.push(r + h.suffix);
  }

  /** A window of an over-long line: rules only; matches starting at or after acceptBelow are left to the next window. */
  private scanWindow(window: string, colBase: number, acceptBelow: number, out: Finding[]): void {
    const c = cleanLine(window, colBase === 0);
    const accepted: RawMatch[] = [];
    for (const f of this.engine.match(c.text)) {
      if (c.offset + f.start >= acceptBelow) continue;
      accepted.push(f);
      this.emit(f, c.text, colBase + c.offset, out);
    }
    if (!this.redact) return;
    // Emit this window's share of the line: [redactSkip, acceptBelow), extended past a secret that
    // straddles the boundary; the next window then skips what was already written.
    const skip = this.redactSkip;
    const mine = accepted.filter((f) => c.offset + f.secretStart >= skip);
    let end = Math.min(acceptBelow, c.stripped.length);
    for (const f of mine) end = Math.max(end, c.offset + f.secretEnd);
    const head = c.stripped.slice(0, end);
    // Nothing before `skip` is replaced, so slicing the redacted text at `skip` is exact.
    const part = mine.length > 0 ? applyRedactions(head, c.offset, mine, this.engine.rules) : head;
    this.redacted.push(part.slice(Math.min(skip, part.length)));
    this.redactSkip = Number.isFinite(acceptBelow) ? Math.max(0, end - acceptBelow) : 0;
  }

  /** Returns true when the line was part of the key body. */
  private feedPem(text: string, out: Finding[]): boolean {
    const pem = this.pem!;
    if (text.includes('-----END')) {
      this.finishPem(out);
      return false;
    }
    const t = text.trim();
    if (t.length === 0 || (t.includes(':') && pem.body.length === 0)) {
      pem.lines++; // blank line or armour header (`Version:`, `Proc-Type:`)
    } else if (/^[A-Za-z0-9+/=]+$/.test(t)) {
      pem.body += t;
      pem.lines++;
    } else {
      this.finishPem(out); // something else interrupted the key (a truncated print)
      return false;
    }
    if (pem.body.length >= PEM_MAX_BODY || pem.lines >= PEM_MAX_LINES) {
      this.finishPem(out);
    }
    return true;
  }

  private finishPem(out: Finding[]): void {
    const pem = this.pem;
    this.pem = undefined;
    if (pem === undefined || pem.body.length < MIN_KEY_BODY) return;
    if (shannonEntropy(pem.body) < 4 || isPlaceholder(pem.body, 'high')) return;
    const rule = this.engine.rules[this.engine.privateKeyRule]!;
    this.report(rule, normaliseKeyBody(pem.body), pem.marker, pem.line, pem.column, undefined, out);
  }

  private emit(f: RawMatch, text: string, colBase: number, out: Finding[]): void {
    const rule = this.engine.rules[f.rule]!;
    const secret = rule.id === 'private-key' ? normaliseKeyBody(f.secret) : f.secret;
    const preview = previewOf(rule, f.secret, f.decodedMatch ?? text.slice(f.start, f.end));
    this.report(rule, secret, preview, this.lineNo, colBase + f.secretStart + 1, f.encoding, out);
  }

  private report(
    rule: SecretRule,
    secret: string,
    preview: string,
    line: number,
    column: number,
    encoding: string | undefined,
    out: Finding[],
  ): void {
    if (this.suppressRule.has(rule.id)) return;
    const fingerprint = createHmac('sha256', this.key).update(secret).digest('hex');
    if (this.suppressFp.has(fingerprint)) return;
    const dedupe = `${rule.id}:${fingerprint}`;
    if (line === this.lineNo) {
      if (this.seenOnLine.has(dedupe)) return; // the same secret redrawn by a `\r` progress line
      this.seenOnLine.add(dedupe);
    }
    const finding: Finding = {
      ruleId: rule.id,
      title: rule.title,
      severity: rule.severity,
      tier: rule.tier,
      job: this.job,
      line,
      column,
      preview,
      fingerprint,
    };
    if (encoding !== undefined) finding.encoding = encoding;
    out.push(finding);
  }
}

/** Scan a whole text at once (tests, small logs). */
export function scanText(text: string, options: StreamScannerOptions): Finding[] {
  const s = new StreamScanner(options);
  return [...s.push(text), ...s.end()];
}
