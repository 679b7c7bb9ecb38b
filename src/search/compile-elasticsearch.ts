// The query AST as Elasticsearch query DSL over the events data stream (src/store/elasticsearch.ts).
// Keyword fields match case-insensitively; free text goes to one field that holds the event's text
// normalised as SQLite's FTS5 tokenises it (src/search/text.ts), so both modes find the same events.
import type { estypes } from '@elastic/elasticsearch';
import type { Field, QueryNode } from './query.ts';
import { normalizeText } from './text.ts';

/** Free text, normalised as SQLite's FTS5 tokenises it (src/search/text.ts); excluded from _source. */
export const SEARCH_TEXT = 'pipewarden.search_text';

const ES_FIELDS: ReadonlyMap<Field, string> = new Map<Field, string>([
  ['actor', 'user.name'],
  ['repository', 'pipewarden.repository'],
  ['source', 'pipewarden.source'],
  ['kind', 'pipewarden.kind'],
  ['action', 'event.action'],
  ['outcome', 'event.outcome'],
  ['id', 'event.id'],
  ['ip', 'source.ip'],
  ['dataset', 'event.dataset'],
  ['branch', 'pipewarden.branch'],
  ['environment', 'pipewarden.environment'],
  ['pipeline', 'pipewarden.pipeline'],
  ['job', 'pipewarden.job'],
  ['commit', 'pipewarden.commit'],
  ['ref', 'pipewarden.ref'],
  ['pull_request', 'pipewarden.pull_request'],
  ['build', 'pipewarden.build_id'],
  ['artifact', 'pipewarden.artifact'],
  ['digest', 'pipewarden.artifact_digest'],
  ['deployment', 'pipewarden.deployment_id'],
]);

type Q = estypes.QueryDslQueryContainer;

function keyword(field: string, value: string, wildcard: boolean): Q {
  return wildcard
    ? { wildcard: { [field]: { value, case_insensitive: true } } }
    : { term: { [field]: { value, case_insensitive: true } } };
}

export function toElasticsearch(node: QueryNode): Q {
  switch (node.type) {
    case 'all':
      return { match_all: {} };
    case 'and':
      return { bool: { filter: node.nodes.map(toElasticsearch) } };
    case 'or':
      return { bool: { should: node.nodes.map(toElasticsearch), minimum_should_match: 1 } };
    case 'not':
      return { bool: { must_not: [toElasticsearch(node.node)] } };
    case 'time': {
      const range: estypes.QueryDslDateRangeQuery = { format: 'epoch_millis' };
      if (node.gte !== undefined) range.gte = String(node.gte);
      if (node.lt !== undefined) range.lt = String(node.lt);
      return { range: { '@timestamp': range } };
    }
    case 'text': {
      const words = normalizeText(node.value);
      if (!node.prefix) return { match_phrase: { [SEARCH_TEXT]: words } };
      // One word: a prefix query (no expansion limit); several: the phrase with its last word a prefix.
      if (!words.includes(' ')) return { prefix: { [SEARCH_TEXT]: { value: words } } };
      return { match_phrase_prefix: { [SEARCH_TEXT]: { query: words, max_expansions: 10_000 } } };
    }
    case 'field': {
      if (node.field === 'ip') return { term: { 'source.ip': node.value } };
      if (node.field === 'organisation')
        return {
          bool: {
            should: [
              keyword('organization.name', node.value, node.wildcard),
              {
                wildcard: {
                  'pipewarden.repository': {
                    value: `${escapeWildcard(node.value, node.wildcard)}/*`,
                    case_insensitive: true,
                  },
                },
              },
            ],
            minimum_should_match: 1,
          },
        };
      return keyword(ES_FIELDS.get(node.field)!, node.value, node.wildcard);
    }
  }
}

/** A literal value inside a wildcard pattern: its own `*`, `?` and `\` escaped (unless they are wildcards). */
function escapeWildcard(value: string, keepWildcards: boolean): string {
  return keepWildcards ? value : value.replace(/[\\*?]/g, (c) => `\\${c}`);
}
