// The responders' query language, parsed once into an AST that each store compiles (elasticsearch.ts,
// sqlite.ts via ./compile-*.ts). Lucene-like, as Kibana and Graylog users type it:
//   actor:alice*  repository:octo-org/*  "deploy to prod"  prot*  kind:login.failure AND NOT ip:10.0.0.0/8
//   (source:github OR source:gitlab)  time:[now-1h TO now]  time:>now-15m
// Bare words and phrases are free text over every searchable field; AND binds tighter than OR; two terms
// side by side mean AND. Field values match case-insensitively; `*` and `?` are wildcards.

import { parseIpBlock } from '../util/ip.ts';

/** Fields a query may name, with the aliases people type. */
export const FIELDS = {
  actor: 'actor',
  user: 'actor',
  'user.name': 'actor',
  repository: 'repository',
  repo: 'repository',
  'pipewarden.repository': 'repository',
  organisation: 'organisation',
  organization: 'organisation',
  org: 'organisation',
  source: 'source',
  'pipewarden.source': 'source',
  kind: 'kind',
  'pipewarden.kind': 'kind',
  action: 'action',
  'event.action': 'action',
  outcome: 'outcome',
  ip: 'ip',
  'source.ip': 'ip',
  dataset: 'dataset',
  branch: 'branch',
  environment: 'environment',
  pipeline: 'pipeline',
  job: 'job',
  id: 'id',
  // the correlation fields a trace follows (src/trail/trace.ts), as the adapters fill them
  commit: 'commit',
  sha: 'commit',
  'pipewarden.commit': 'commit',
  ref: 'ref',
  pull_request: 'pull_request',
  pr: 'pull_request',
  mr: 'pull_request',
  build: 'build',
  build_id: 'build',
  artifact: 'artifact',
  digest: 'digest',
  deployment: 'deployment',
  deployment_id: 'deployment',
} as const;
export type Field = (typeof FIELDS)[keyof typeof FIELDS];

const FIELD_NAMES: ReadonlyMap<string, Field> = new Map(Object.entries(FIELDS) as Array<[string, Field]>);
/** Names that may stand before a colon: the fields and the time range. */
const NAMES: ReadonlySet<string> = new Set([...FIELD_NAMES.keys(), 'time', '@timestamp']);

export type QueryNode =
  | { type: 'all' }
  | { type: 'and'; nodes: QueryNode[] }
  | { type: 'or'; nodes: QueryNode[] }
  | { type: 'not'; node: QueryNode }
  /** value has `*`/`?` wildcards when wildcard is true (escaped ones are literal in `value`'s parts). */
  | { type: 'field'; field: Field; value: string; wildcard: boolean }
  | { type: 'text'; value: string; phrase: boolean; prefix: boolean }
  /** Epoch ms: gte inclusive, lt exclusive. */
  | { type: 'time'; gte?: number; lt?: number };

/** A query the user must fix: the API answers 400 with the message (which names the position). */
export class QueryError extends Error {
  override name = 'QueryError';
}

type Token =
  | { t: 'word'; v: string; quoted: boolean; pos: number }
  | { t: '(' | ')' | 'AND' | 'OR' | 'NOT' | ':' | '[' | ']' | 'TO'; pos: number };

const MAX_QUERY = 2000;
/**
 * `name:value` where name is not a field but reads as one (letters, `_`, `.`; no digit, so `sha256:…`,
 * `fe80::1` and `12:30` stay free text; a value starting with `/` is a URL, also free text). Taken as free
 * text it would match nothing and look like an empty result; the responder gets an error naming the fields.
 */
const LOOKS_LIKE_FIELD = /^([A-Za-z_][A-Za-z_.]*[A-Za-z_]):(?![/:])\S/;
const MAX_TERMS = 100;

function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === '[' || c === ']') {
      out.push({ t: c, pos: i });
      i++;
      continue;
    }
    if (c === '"') {
      let v = '';
      let j = i + 1;
      for (; j < q.length && q[j] !== '"'; j++) {
        if (q[j] === '\\' && j + 1 < q.length) j++;
        v += q[j];
      }
      if (j >= q.length) throw new QueryError(`unclosed quote at position ${i + 1}`);
      out.push({ t: 'word', v, quoted: true, pos: i });
      i = j + 1;
      continue;
    }
    let j = i;
    let v = '';
    while (j < q.length && !/[\s()[\]"]/.test(q[j]!)) {
      if (q[j] === ':' && v !== '' && out.at(-1)?.t !== ':' && !v.includes(':') && NAMES.has(v.toLowerCase()))
        break;
      v += q[j];
      j++;
    }
    if (q[j] === ':' && v !== '' && NAMES.has(v.toLowerCase())) {
      out.push({ t: 'word', v, quoted: false, pos: i }, { t: ':', pos: j });
      i = j + 1;
      continue;
    }
    const upper = v.toUpperCase();
    if (v === 'AND' || v === '&&') out.push({ t: 'AND', pos: i });
    else if (v === 'OR' || v === '||') out.push({ t: 'OR', pos: i });
    else if (v === 'NOT') out.push({ t: 'NOT', pos: i });
    else if (upper === 'TO' && v === 'TO') out.push({ t: 'TO', pos: i });
    else if (v.startsWith('-') && v.length > 1 && out.at(-1)?.t !== ':') {
      out.push({ t: 'NOT', pos: i });
      i++;
      continue;
    } else out.push({ t: 'word', v, quoted: false, pos: i });
    i = j;
  }
  return out;
}

/** now, now-15m, now-1h, now-7d, or an ISO date/time: epoch ms. */
export function parseTimeValue(text: string, nowMs: number): number {
  const rel = /^now(?:([+-])(\d{1,6})([smhdw]))?$/.exec(text);
  if (rel) {
    if (!rel[1]) return nowMs;
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[rel[3] as 's'];
    return nowMs + (rel[1] === '-' ? -1 : 1) * Number(rel[2]) * unit;
  }
  const t = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(t))
    throw new QueryError(`'${text}' is not a time (now, now-1h, now-7d or an ISO date)`);
  return t;
}

/** Parses a query; an empty one matches everything. */
export function parseQuery(q: string, nowMs = Date.now()): QueryNode {
  if (q.length > MAX_QUERY) throw new QueryError(`query longer than ${MAX_QUERY} characters`);
  const tokens = tokenize(q.replace(/\p{Cc}/gu, ' '));
  let i = 0;
  let terms = 0;
  const peek = () => tokens[i];
  const where = (back = 0) => {
    const t = tokens[i + back];
    return t ? `at position ${t.pos + 1}` : 'at the end';
  };

  const orExpr = (): QueryNode => {
    const nodes = [andExpr()];
    while (peek()?.t === 'OR') {
      i++;
      nodes.push(andExpr());
    }
    return nodes.length === 1 ? nodes[0]! : { type: 'or', nodes };
  };
  const andExpr = (): QueryNode => {
    const nodes = [unary()];
    for (;;) {
      const t = peek();
      if (!t || t.t === 'OR' || t.t === ')') break;
      if (t.t === 'AND') i++;
      nodes.push(unary());
    }
    return nodes.length === 1 ? nodes[0]! : { type: 'and', nodes };
  };
  const unary = (): QueryNode => {
    if (peek()?.t === 'NOT') {
      i++;
      return { type: 'not', node: unary() };
    }
    return primary();
  };
  const primary = (): QueryNode => {
    const t = peek();
    if (!t) throw new QueryError('the query ends where a term was expected');
    if (t.t === '(') {
      i++;
      const inner = orExpr();
      if (peek()?.t !== ')') throw new QueryError(`missing ) ${where()}`);
      i++;
      return inner;
    }
    if (t.t !== 'word') throw new QueryError(`unexpected ${t.t} ${where()}`);
    if (++terms > MAX_TERMS) throw new QueryError(`more than ${MAX_TERMS} terms`);
    i++;
    if (peek()?.t === ':' && !t.quoted) {
      i++;
      const name = t.v.toLowerCase();
      if (name === 'time' || name === '@timestamp') return timeTerm();
      const field = FIELD_NAMES.get(name)!;
      const v = peek();
      if (!v || v.t !== 'word') throw new QueryError(`${t.v}: needs a value ${where()}`);
      i++;
      const wildcard = !v.quoted && /[*?]/.test(v.v);
      if (field === 'ip' && (wildcard || parseIpBlock(v.v) === undefined))
        throw new QueryError(`ip: takes an address or a CIDR block (10.0.0.0/8), not '${v.v}'`);
      return { type: 'field', field, value: v.v, wildcard };
    }
    if (t.quoted) return { type: 'text', value: t.v, phrase: true, prefix: false };
    const named = LOOKS_LIKE_FIELD.exec(t.v);
    if (named)
      throw new QueryError(
        `unknown field '${named[1]}' ${where(-1)}; fields: ${[...new Set(FIELD_NAMES.values())].join(', ')}, time. ` +
          `To search for the text itself, quote it: "${t.v}"`,
      );
    const star = t.v.indexOf('*');
    if (t.v.includes('?') || (star >= 0 && star !== t.v.length - 1))
      throw new QueryError(
        `free-text wildcards go only at the end of a word (prot*), not in '${t.v}'; use a field for others (actor:*bot)`,
      );
    if (star === 0) throw new QueryError(`'*' alone is not a word; leave it out to match everything`);
    return { type: 'text', value: star > 0 ? t.v.slice(0, -1) : t.v, phrase: false, prefix: star > 0 };
  };
  const timeTerm = (): QueryNode => {
    const t = peek();
    if (t?.t === '[') {
      i++;
      const a = peek();
      if (a?.t !== 'word') throw new QueryError(`time range: expected a start ${where()}`);
      i++;
      if (peek()?.t !== 'TO') throw new QueryError(`time range: expected TO ${where()}`);
      i++;
      const b = peek();
      if (b?.t !== 'word') throw new QueryError(`time range: expected an end ${where()}`);
      i++;
      if (peek()?.t !== ']') throw new QueryError(`time range: expected ] ${where()}`);
      i++;
      return {
        type: 'time',
        ...(a.v === '*' ? {} : { gte: parseTimeValue(a.v, nowMs) }),
        ...(b.v === '*' ? {} : { lt: parseTimeValue(b.v, nowMs) }),
      };
    }
    if (t?.t !== 'word') throw new QueryError(`time: needs a value ${where()}`);
    i++;
    const m = /^(>=|<=|>|<)?(.+)$/.exec(t.v)!;
    const at = parseTimeValue(m[2]!, nowMs);
    if (m[1] === '>' || m[1] === '>=') return { type: 'time', gte: at };
    if (m[1] === '<' || m[1] === '<=') return { type: 'time', lt: at };
    throw new QueryError(`time: use time:>now-1h, time:<2024-06-01 or time:[now-1d TO now]`);
  };

  if (tokens.length === 0) return { type: 'all' };
  const node = orExpr();
  if (i < tokens.length)
    throw new QueryError(`unexpected ${tokens[i]!.t === 'word' ? 'word' : tokens[i]!.t} ${where()}`);
  return node;
}

/** Adds from/to (pickers) to a parsed query. */
export function withTime(node: QueryNode, from?: number, to?: number): QueryNode {
  if (from === undefined && to === undefined) return node;
  const time: QueryNode = {
    type: 'time',
    ...(from !== undefined ? { gte: from } : {}),
    ...(to !== undefined ? { lt: to } : {}),
  };
  return node.type === 'all' ? time : { type: 'and', nodes: [time, node] };
}
