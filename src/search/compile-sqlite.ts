// The query AST as a SQLite WHERE clause over the events table (src/store/sqlite.ts), free text through
// its FTS5 table. NOT is null-safe (an event without the field is NOT field:x), as in Elasticsearch.
import type { SQLInputValue } from 'node:sqlite';
import type { Field, QueryNode } from './query.ts';

export interface SqlWhere {
  sql: string;
  params: SQLInputValue[];
}

/** Columns of the events table; the other fields are read from the stored document. */
const COLUMNS: ReadonlyMap<Field, string> = new Map<Field, string>([
  ['actor', 'actor'],
  ['repository', 'repository'],
  ['source', 'source'],
  ['kind', 'kind'],
  ['action', 'action'],
  ['outcome', 'outcome'],
  ['id', 'id'],
  ['dataset', "json_extract(doc, '$.event.dataset')"],
  ['branch', "json_extract(doc, '$.pipewarden.branch')"],
  ['environment', "json_extract(doc, '$.pipewarden.environment')"],
  ['pipeline', "json_extract(doc, '$.pipewarden.pipeline')"],
  ['job', "json_extract(doc, '$.pipewarden.job')"],
  ['commit', "json_extract(doc, '$.pipewarden.commit')"],
  ['ref', "json_extract(doc, '$.pipewarden.ref')"],
  ['pull_request', "json_extract(doc, '$.pipewarden.pull_request')"],
  ['build', "json_extract(doc, '$.pipewarden.build_id')"],
  ['artifact', "json_extract(doc, '$.pipewarden.artifact')"],
  ['digest', "json_extract(doc, '$.pipewarden.artifact_digest')"],
  ['deployment', "json_extract(doc, '$.pipewarden.deployment_id')"],
]);

/** `*` and `?` to LIKE's `%` and `_`, with LIKE's own characters escaped. */
export function likePattern(value: string): string {
  return value
    .replace(/[\\%_]/g, (c) => `\\${c}`)
    .replaceAll('*', '%')
    .replaceAll('?', '_');
}

/** One FTS5 phrase (prefix: its last token a prefix), quoted so nothing in it is FTS syntax. */
export function ftsPhrase(value: string, prefix: boolean): string {
  return `"${value.replaceAll('"', '""')}"${prefix ? ' *' : ''}`;
}

function match(column: string, value: string, wildcard: boolean, params: SQLInputValue[]): string {
  if (wildcard) {
    params.push(likePattern(value));
    return `${column} LIKE ? ESCAPE '\\'`;
  }
  params.push(value);
  return `${column} = ? COLLATE NOCASE`;
}

export function toSqlite(node: QueryNode): SqlWhere {
  const params: SQLInputValue[] = [];
  const walk = (n: QueryNode): string => {
    switch (n.type) {
      case 'all':
        return '1';
      case 'and': {
        // Free-text terms side by side become one FTS5 MATCH (its own AND): one index lookup, not one each.
        const texts = n.nodes.filter((x) => x.type === 'text');
        const rest = n.nodes.filter((x) => x.type !== 'text').map(walk);
        if (texts.length > 1) {
          params.push(texts.map((t) => ftsPhrase(t.value, t.prefix)).join(' '));
          rest.push('rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)');
        } else if (texts.length === 1) rest.push(walk(texts[0]!));
        return `(${rest.join(' AND ')})`;
      }
      case 'or':
        return `(${n.nodes.map(walk).join(' OR ')})`;
      case 'not':
        return `NOT coalesce(${walk(n.node)}, 0)`;
      case 'time': {
        const parts: string[] = [];
        if (n.gte !== undefined) {
          parts.push('ts >= ?');
          params.push(n.gte);
        }
        if (n.lt !== undefined) {
          parts.push('ts < ?');
          params.push(n.lt);
        }
        return parts.length ? `(${parts.join(' AND ')})` : '1';
      }
      case 'text':
        params.push(ftsPhrase(n.value, n.prefix));
        return 'rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)';
      case 'field': {
        if (n.field === 'ip') {
          params.push(n.value);
          return 'pw_ip_in(source_ip, ?) = 1';
        }
        if (n.field === 'organisation') {
          const org = match("json_extract(doc, '$.organization.name')", n.value, n.wildcard, params);
          params.push(`${likePattern(n.value)}/%`);
          return `(${org} OR repository LIKE ? ESCAPE '\\')`;
        }
        return match(COLUMNS.get(n.field)!, n.value, n.wildcard, params);
      }
    }
  };
  return { sql: walk(node), params };
}
