// The production store: events in a data stream, alerts and tokens in plain indices, ECS field names.
import { Client, type ClientOptions, errors, type estypes } from '@elastic/elasticsearch';
import { z } from 'zod';
import type { AlertRecord } from '../alerting/types.ts';
import { secretRef } from '../config/secrets.ts';
import type { PipewardenEvent } from '../event.ts';
import type { Logger } from '../log.ts';
import { SEARCH_TEXT, toElasticsearch } from '../search/compile-elasticsearch.ts';
import type { QueryNode } from '../search/query.ts';
import { normalizeText, searchText } from '../search/text.ts';
import type { Checkpoint, TrailLink } from '../trail/types.ts';
import { decodeCursor, encodeCursor, pageSize, parseTime } from './paging.ts';
import {
  type AlertQuery,
  denseBuckets,
  type EventQuery,
  type HistogramBucket,
  type HistogramRange,
  type IndexOptions,
  type Page,
  type Store,
  type TokenRecord,
  type TraceField,
} from './types.ts';

export const elasticsearchConfigSchema = z
  .strictObject({
    node: z
      .url({ protocol: /^https?$/ })
      .refine((u) => new URL(u).username === '' && new URL(u).password === '', {
        message: 'must not carry credentials: name them with apiKeyEnv or usernameEnv/passwordEnv',
      }),
    // Index names must be lowercase and may not start with -, _ or +.
    indexPrefix: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,100}$/, 'lowercase letters, digits, - and _')
      .default('pipewarden'),
    apiKeyEnv: secretRef('PIPEWARDEN_ELASTICSEARCH_API_KEY'),
    usernameEnv: secretRef('PIPEWARDEN_ELASTICSEARCH_USERNAME'),
    passwordEnv: secretRef('PIPEWARDEN_ELASTICSEARCH_PASSWORD'),
    requestTimeoutMs: z.number().int().positive().default(10_000),
    /**
     * Days events are kept: set as the data stream lifecycle's data_retention in the events template
     * (Elasticsearch deletes older backing indices). Absent: kept until you delete them (or your ILM does).
     */
    retentionDays: z.number().int().min(1).max(36_500).optional(),
    /**
     * Who creates the templates, the data stream and the indices. `start`: every process at start (its
     * credential needs the setup privileges). `separate`: an operator runs `pipewarden store init` with
     * the setup credential; the collector only checks they exist, so its own key can be create-only
     * (deploy/elasticsearch/, README "Trail integrity").
     */
    setup: z.enum(['start', 'separate']).default('start'),
  })
  .superRefine((c, ctx) => {
    if ((c.usernameEnv === undefined) !== (c.passwordEnv === undefined)) {
      const path = [c.usernameEnv ? 'passwordEnv' : 'usernameEnv'];
      ctx.addIssue({ code: 'custom', path, message: 'username and password must be set together' });
    }
    if (c.apiKeyEnv && c.usernameEnv) {
      ctx.addIssue({
        code: 'custom',
        path: ['apiKeyEnv'],
        message: 'set an API key or a username, not both',
      });
    }
  });
export type ElasticsearchConfig = z.output<typeof elasticsearchConfigSchema>;

/** Where free text is searched: every searchable field is copied here (one analysed field, like one FTS table). */
const TEXT = 'pipewarden.text';
// One replica once a second node exists, none on a single node (which could never place it, staying yellow).
const SETTINGS = { number_of_shards: 1, auto_expand_replicas: '0-1' } as const;
const keyword = { type: 'keyword', ignore_above: 1024 } as const;
const searchable = { ...keyword, copy_to: TEXT } as const;
const date = { type: 'date' } as const;

// --- trail (src/trail) ---------------------------------------------------------------------------------
// The chain link and the correlation fields a trace searches; checkpoints in their own create-only index.
const TRAIL_EVENT_FIELDS: Record<string, estypes.MappingProperty> = {
  trail: {
    properties: {
      partition: { type: 'integer' },
      offset: { type: 'long' },
      seq: { type: 'long' },
      prev: { type: 'keyword', index: false },
      hash: keyword,
    },
  },
  ref: keyword,
  pull_request: keyword,
  build_id: keyword,
  artifact_version: keyword,
  artifact_digest: keyword,
  deployment_id: keyword,
  approvers: keyword,
};
const CHECKPOINT_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: { partition: { type: 'integer' }, n: { type: 'long' }, time: date },
};
const TRAIL_PAGE = 1000;
const TP = 'pipewarden.trail.partition';
const TO = 'pipewarden.trail.offset';
// --- end trail -----------------------------------------------------------------------------------------

// dynamic: false keeps an unmapped field an adapter adds later in _source without indexing it; 'strict'
// would reject the whole event and stall the index consumer over a harmless new field.
export const EVENT_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
  _source: { excludes: [SEARCH_TEXT] }, // indexed for search, never returned
  properties: {
    '@timestamp': date,
    message: { type: 'text', copy_to: TEXT },
    event: {
      properties: {
        id: keyword,
        kind: keyword,
        category: keyword,
        type: keyword,
        action: searchable,
        outcome: keyword,
        dataset: searchable,
        provider: searchable,
        ingested: date,
      },
    },
    user: {
      properties: {
        name: searchable,
        id: searchable,
        type: keyword,
        target: { properties: { name: searchable, id: searchable, roles: searchable } },
      },
    },
    // ignore_malformed: a vendor's "unknown" or hostname in the IP slot must not make the bulk item fail.
    source: { properties: { ip: { type: 'ip', ignore_malformed: true, copy_to: TEXT } } },
    user_agent: { properties: { original: searchable } },
    url: { properties: { original: searchable } },
    organization: { properties: { name: searchable, id: keyword } },
    pipewarden: {
      properties: {
        kind: searchable,
        source: searchable,
        delivery_id: keyword,
        repository: searchable,
        branch: searchable,
        environment: searchable,
        pipeline: searchable,
        job: searchable,
        build_url: searchable,
        artifact: searchable,
        commit: searchable,
        visibility: keyword,
        forced: { type: 'boolean' },
        count: { type: 'long' },
        runner: {
          properties: {
            name: searchable,
            id: keyword,
            group: searchable,
            labels: searchable,
            self_hosted: { type: 'boolean' },
          },
        },
        token: { properties: { hashed: searchable, id: searchable, scopes: keyword, type: keyword } },
        change: { properties: { field: keyword, from: searchable, to: searchable } },
        secret: {
          properties: {
            rule: searchable,
            title: { type: 'text' },
            severity: keyword,
            tier: keyword,
            line: { type: 'long' },
            column: { type: 'long' },
            preview: keyword,
            fingerprint: searchable,
            encoding: keyword,
          },
        },
        ...TRAIL_EVENT_FIELDS,
        // Kept for the audit trail, never parsed: vendor payloads would explode the mapping.
        raw: { type: 'object', enabled: false },
        text: { type: 'text' }, // TEXT: the copy_to target, not in _source
        search_text: { type: 'text' }, // SEARCH_TEXT: free text tokenised as SQLite does (src/search/text.ts)
      },
    },
  },
};

export const ALERT_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: {
    id: keyword,
    '@timestamp': date,
    detected_at: date,
    detector: keyword,
    title: { type: 'text' },
    severity: keyword,
    status: keyword,
    summary: { type: 'text' },
    description: { type: 'text', index: false },
    runbook: { type: 'keyword', index: false },
    reference: { type: 'keyword', index: false },
    key: keyword,
    event_ids: keyword,
    source: keyword,
    actor: keyword,
    repository: keyword,
    source_ip: { type: 'ip', ignore_malformed: true },
    // Flattened: sink names and context keys are open-ended; one field each, no mapping growth.
    context: { type: 'flattened' },
    deliveries: { type: 'flattened' },
    // The console's silences and triage (src/alerting/silences.ts, src/console/triage.ts).
    silence: keyword,
    triage: {
      properties: {
        state: keyword,
        assignee: keyword,
        resolution: keyword,
        history: { type: 'object', enabled: false },
      },
    },
  },
};

// Strict: tokens are written only by our own code, so an unknown field is a bug worth failing on.
const TOKEN_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    id: keyword,
    name: keyword,
    hash: { type: 'keyword', index: false },
    createdAt: date,
    role: keyword,
    expiresAt: date,
    revokedAt: date,
    lastUsedAt: date,
  },
};

// Opaque JSON text: stored, never searched.
const STATE_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: { value: { type: 'keyword', index: false, doc_values: false }, updatedAt: date },
};

// Events Elasticsearch refused for good (a field of the wrong type): kept whole as text, with the reason,
// so nothing accepted is lost and the index consumer does not retry them forever.
const DEADLETTER_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    event_id: keyword,
    '@timestamp': date,
    source: keyword,
    error_type: keyword,
    reason: { type: 'text' },
    document: { type: 'keyword', index: false, doc_values: false },
  },
};

/** A client for the configured node, with the API key or username and password from the environment. */
export function createElasticsearchClient(config: ElasticsearchConfig): Client {
  const auth: ClientOptions['auth'] = config.apiKeyEnv
    ? { apiKey: config.apiKeyEnv.reveal() }
    : config.usernameEnv && config.passwordEnv
      ? { username: config.usernameEnv.reveal(), password: config.passwordEnv.reveal() }
      : undefined;
  return new Client({
    node: config.node,
    requestTimeout: config.requestTimeoutMs,
    ...(auth ? { auth } : {}),
  });
}

export class ElasticsearchStore implements Store {
  readonly kind = 'elasticsearch';
  readonly #client: Client;
  readonly #log: Logger | undefined;
  readonly #prefix: string;
  readonly #events: string;
  readonly #alerts: string;
  readonly #tokens: string;
  readonly #state: string;
  readonly #deadletter: string;
  readonly #retentionDays: number | undefined;
  /** A re-initialisation in flight (indices found missing), shared by every writer that finds them so. */
  #recreating: Promise<void> | undefined;
  readonly #checkpoints: string;
  readonly #setup: ElasticsearchConfig['setup'];
  #writeIndex: { name: string; at: number } | undefined;

  constructor(config: ElasticsearchConfig, options: { log?: Logger } = {}) {
    this.#client = createElasticsearchClient(config);
    this.#log = options.log;
    this.#prefix = config.indexPrefix;
    this.#events = `${config.indexPrefix}-events`;
    this.#alerts = `${config.indexPrefix}-alerts`;
    this.#tokens = `${config.indexPrefix}-tokens`;
    this.#state = `${config.indexPrefix}-state`;
    this.#deadletter = `${config.indexPrefix}-deadletter`;
    this.#retentionDays = config.retentionDays;
    this.#checkpoints = `${config.indexPrefix}-trail-checkpoints`;
    this.#setup = config.setup;
  }

  async init(): Promise<void> {
    if (this.#setup === 'separate') return this.#checkSetUp();
    return this.setUp();
  }

  /**
   * elasticsearch.setup: separate. Reads each index the store uses (a count: the read privilege is
   * enough); one that is missing fails the start, naming `pipewarden store init`. An index this
   * credential may not read (403) belongs to another role and is not its concern.
   */
  async #checkSetUp(): Promise<void> {
    const missing: string[] = [];
    for (const index of [
      this.#events,
      this.#alerts,
      this.#tokens,
      this.#state,
      this.#deadletter,
      this.#checkpoints,
    ]) {
      try {
        await this.#client.count({ index });
      } catch (err) {
        const status = (err as { meta?: { statusCode?: number } }).meta?.statusCode;
        if (status === 404) missing.push(index);
        else if (status !== 403) throw err;
      }
    }
    if (missing.length > 0)
      throw new Error(
        `Elasticsearch store is not set up (missing: ${missing.join(', ')}); elasticsearch.setup is separate: run \`pipewarden store init\` with the setup credential first.`,
      );
    this.#log?.info({ events: this.#events }, 'Store ready (set up separately).');
  }

  /** Creates or updates the templates, the data stream and the indices: `pipewarden store init`, or init() when setup is start. */
  async setUp(): Promise<void> {
    const c = this.#client;
    // Plain indices get templates too, so even one auto-created by a write in a race gets our mappings.
    for (const [index, mappings] of [
      [this.#alerts, ALERT_MAPPINGS],
      [this.#tokens, TOKEN_MAPPINGS],
      [this.#state, STATE_MAPPINGS],
      [this.#deadletter, DEADLETTER_MAPPINGS],
    ] as const) {
      await c.indices.putIndexTemplate({
        name: index,
        index_patterns: [index],
        template: { settings: SETTINGS, mappings },
        priority: 200,
        _meta: { managed_by: 'pipewarden' },
      });
    }
    await c.cluster.putComponentTemplate({
      name: `${this.#prefix}-events-mappings`,
      template: { settings: SETTINGS, mappings: EVENT_MAPPINGS },
    });
    // Templates apply to new backing indices only: a mapping change here takes effect at the next rollover.
    await c.indices.putIndexTemplate({
      name: this.#events,
      index_patterns: [this.#events],
      data_stream: {},
      composed_of: [`${this.#prefix}-events-mappings`],
      ...(this.#retentionDays
        ? { template: { lifecycle: { data_retention: `${this.#retentionDays}d` } } }
        : {}),
      priority: 200,
      _meta: { managed_by: 'pipewarden' },
    });
    await ignoreExists(c.indices.createDataStream({ name: this.#events }));
    await this.#ensureIndex(this.#alerts, ALERT_MAPPINGS);
    await this.#ensureIndex(this.#tokens, TOKEN_MAPPINGS);
    await this.#ensureIndex(this.#state, STATE_MAPPINGS);
    await this.#ensureIndex(this.#deadletter, DEADLETTER_MAPPINGS);
    // trail: a stream made before these fields existed gets them now (its current backing index).
    await c.indices.putMapping({
      index: this.#events,
      properties: { pipewarden: { properties: TRAIL_EVENT_FIELDS } },
    });
    await this.#ensureIndex(this.#checkpoints, CHECKPOINT_MAPPINGS);
    this.#log?.info({ events: this.#events, alerts: this.#alerts, tokens: this.#tokens }, 'Store ready.');
  }

  async indexEvents(events: PipewardenEvent[], options: IndexOptions = {}): Promise<void> {
    if (options.mayBeRedelivered && events.length > 0) {
      try {
        events = await this.#notYetIndexed(events);
      } catch (err) {
        if (!isIndexNotFound(err)) throw err;
        await this.#recreate(`the ${this.#events} data stream`); // then nothing of it is indexed yet
      }
    }
    if (events.length === 0) return;
    // Data streams accept only `create`; keyed by event id, a redelivered event is a 409 and changes nothing.
    const operations = events.flatMap((e) => [
      { create: { _index: this.#events, _id: e.event.id } },
      withSearchText(e),
    ]);
    // require_data_stream: if the data stream is gone (the node came back empty), a write must not
    // auto-create a plain index with guessed mappings; it fails, and the store is set up again.
    let res = await this.#client.bulk({ operations, refresh: false, require_data_stream: true });
    if (res.errors && res.items.some((i) => i.create?.error?.type === 'index_not_found_exception')) {
      await this.#recreate(`the ${this.#events} data stream`);
      res = await this.#client.bulk({ operations, refresh: false, require_data_stream: true });
    }
    if (!res.errors) return;
    const failures: string[] = [];
    const refused: Array<{ event: PipewardenEvent; type: string; reason: string }> = [];
    res.items.forEach((item, i) => {
      const r = item.create;
      if (!r?.error || r.status === 409) return;
      // 400: this document can never be indexed as it is (mapping conflict); anything else may pass later.
      if (r.status === 400)
        refused.push({ event: events[i]!, type: r.error.type, reason: r.error.reason ?? '' });
      else failures.push(`${r._id}: ${r.error.type}: ${r.error.reason ?? ''}`);
    });
    if (refused.length > 0) await this.#deadLetter(refused);
    if (failures.length > 0) {
      throw new Error(
        `Elasticsearch rejected ${failures.length} of ${events.length} events: ${failures.slice(0, 5).join('; ')}`,
      );
    }
  }

  async searchEvents(query: EventQuery): Promise<Page<PipewardenEvent>> {
    const filter = [
      ...timeRange(query),
      ...term('pipewarden.source', query.source),
      ...term('pipewarden.kind', query.kind),
      ...term('user.name', query.actor),
      ...term('pipewarden.repository', query.repository),
      ...term('event.action', query.action),
      // An ip field takes an address or a CIDR block in a term query.
      ...term('source.ip', query.ip),
      ...textTerms(query.q).map((t) => ({ match_phrase: { [SEARCH_TEXT]: normalizeText(t) } })),
    ];
    return this.#page<PipewardenEvent>(this.#events, filter, 'event.id', query);
  }

  async getEvent(id: string): Promise<PipewardenEvent | undefined> {
    // A data stream has no GET by id (the id lives in one of its backing indices): search by ids instead.
    const res = await this.#client.search<PipewardenEvent>({
      index: this.#events,
      size: 1,
      query: { ids: { values: [id] } },
    });
    return res.hits.hits[0]?._source;
  }

  async putAlert(alert: AlertRecord): Promise<void> {
    await this.#ensure(this.#alerts);
    await this.#client.index({ index: this.#alerts, id: alert.id, document: alert, refresh: false });
  }

  async getAlert(id: string): Promise<AlertRecord | undefined> {
    const res = await this.#client.get<AlertRecord>({ index: this.#alerts, id }, { ignore: [404] });
    return res.found ? res._source : undefined;
  }

  async searchAlerts(query: AlertQuery): Promise<Page<AlertRecord>> {
    const filter = [
      ...timeRange(query),
      ...term('detector', query.detector),
      ...term('severity', query.severity),
      ...term('status', query.status),
    ];
    return this.#page<AlertRecord>(this.#alerts, filter, 'id', query);
  }

  async putToken(token: TokenRecord): Promise<void> {
    await this.#ensure(this.#tokens);
    // wait_for: `token list` right after a create or revoke shows it (tokens change rarely).
    await this.#client.index({ index: this.#tokens, id: token.id, document: token, refresh: 'wait_for' });
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    const res = await this.#client.get<TokenRecord>({ index: this.#tokens, id }, { ignore: [404] });
    return res.found ? res._source : undefined;
  }

  // --- console: token list ---

  async listTokens(): Promise<TokenRecord[]> {
    const res = await this.#client.search<TokenRecord>({
      index: this.#tokens,
      size: 10_000,
      query: { match_all: {} },
      sort: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    return res.hits.hits.flatMap((h) => (h._source ? [h._source] : []));
  }

  // --- end console: token list ---

  // --- console search: the query AST compiled to query DSL (src/search/compile-elasticsearch.ts) ---

  async queryEvents(
    query: QueryNode,
    page: { size?: number; cursor?: string },
  ): Promise<Page<PipewardenEvent>> {
    return this.#page<PipewardenEvent>(this.#events, [toElasticsearch(query)], 'event.id', page);
  }

  async eventHistogram(query: QueryNode, range: HistogramRange): Promise<HistogramBucket[]> {
    const res = await this.#client.search({
      index: this.#events,
      size: 0,
      query: {
        bool: {
          filter: [
            {
              range: {
                '@timestamp': { gte: String(range.from), lt: String(range.to), format: 'epoch_millis' },
              },
            },
            toElasticsearch(query),
          ],
        },
      },
      aggs: { t: { date_histogram: { field: '@timestamp', fixed_interval: `${range.interval}ms` } } },
    });
    const buckets = (
      res.aggregations?.t as { buckets?: Array<{ key: number; doc_count: number }> } | undefined
    )?.buckets;
    return denseBuckets(range, new Map((buckets ?? []).map((b) => [b.key, b.doc_count])));
  }

  // --- end console search ---

  async putState(key: string, value: string): Promise<void> {
    await this.#ensure(this.#state);
    await this.#client.index({
      index: this.#state,
      id: key,
      document: { value, updatedAt: new Date().toISOString() },
      refresh: false,
    });
  }

  async getState(key: string): Promise<string | undefined> {
    // A get by id is real-time in Elasticsearch: it sees the last write without a refresh.
    const res = await this.#client.get<{ value: string }>({ index: this.#state, id: key }, { ignore: [404] });
    return res.found ? res._source?.value : undefined;
  }

  // --- trail (src/trail) -------------------------------------------------------------------------------
  async trailExisting(
    ids: string[],
    options: { collisions?: boolean } = {},
  ): Promise<Map<string, TrailLink | null>> {
    const out = new Map<string, TrailLink | null>();
    if (ids.length === 0) return out;
    type Doc = { pipewarden?: { trail?: TrailLink } };
    const note = (id: string, doc: Doc | undefined) => out.set(id, doc?.pipewarden?.trail ?? null);
    // Searched: every backing index, as of the last refresh (not for collisions: a create only collides
    // in the write index). Got: the write index, real-time.
    const [found, got] = await Promise.all([
      options.collisions
        ? { hits: { hits: [] as Array<{ _id?: string; _source?: Doc }> } }
        : this.#client.search<Doc>({
            index: this.#events,
            size: ids.length,
            _source: ['pipewarden.trail'],
            query: { ids: { values: ids } },
          }),
      this.#client.mget<Doc>({ index: await this.#currentWriteIndex(), ids, _source: ['pipewarden.trail'] }),
    ]);
    for (const h of found.hits.hits) if (h._id) note(h._id, h._source);
    for (const d of got.docs) if ('found' in d && d.found) note(d._id, d._source);
    return out;
  }

  async trailLinkBefore(partition: number, offset: number): Promise<PipewardenEvent | undefined> {
    await this.#client.indices.refresh({ index: this.#events });
    const res = await this.#client.search<PipewardenEvent>({
      index: this.#events,
      size: 1,
      query: { bool: { filter: [{ term: { [TP]: partition } }, { range: { [TO]: { lt: offset } } }] } },
      sort: [{ [TO]: 'desc' }, { 'event.id': 'desc' }],
    });
    return res.hits.hits[0]?._source;
  }

  async putTrailCheckpoint(c: Checkpoint): Promise<void> {
    try {
      await this.#client.create({ index: this.#checkpoints, id: `${c.partition}-${c.n}`, document: c });
    } catch (err) {
      if (err instanceof errors.ResponseError && err.statusCode === 409) return; // already written: create-only
      throw err;
    }
  }

  async trailCheckpoints(partition?: number): Promise<Checkpoint[]> {
    await this.#client.indices.refresh({ index: this.#checkpoints });
    const out: Checkpoint[] = [];
    let after: estypes.SortResults | undefined;
    for (;;) {
      const res = await this.#client.search<Checkpoint>({
        index: this.#checkpoints,
        size: TRAIL_PAGE,
        query: partition === undefined ? { match_all: {} } : { term: { partition } },
        sort: [{ partition: 'asc' }, { n: 'asc' }],
        ...(after ? { search_after: after } : {}),
      });
      for (const h of res.hits.hits) if (h._source) out.push(h._source);
      if (res.hits.hits.length < TRAIL_PAGE) return out;
      after = res.hits.hits.at(-1)?.sort;
    }
  }

  async trailPartitions(): Promise<number[]> {
    const res = await this.#client.search({
      index: this.#events,
      size: 0,
      aggs: { p: { terms: { field: TP, size: 10_000 } } },
    });
    const agg = res.aggregations?.p as { buckets: Array<{ key: number }> } | undefined;
    return (agg?.buckets ?? []).map((b) => Number(b.key)).sort((a, b) => a - b);
  }

  async *trailChain(partition: number, fromOffset: number): AsyncIterable<PipewardenEvent> {
    let after: estypes.SortResults | undefined;
    for (;;) {
      const res = await this.#client.search<PipewardenEvent>({
        index: this.#events,
        size: TRAIL_PAGE,
        query: {
          bool: { filter: [{ term: { [TP]: partition } }, { range: { [TO]: { gte: fromOffset } } }] },
        },
        sort: [{ [TO]: 'asc' }, { 'event.id': 'asc' }],
        ...(after ? { search_after: after } : {}),
      });
      for (const h of res.hits.hits) if (h._source) yield h._source;
      if (res.hits.hits.length < TRAIL_PAGE) return;
      after = res.hits.hits.at(-1)?.sort;
    }
  }

  async *trailUnchained(since: string): AsyncIterable<{ id: string; ingested: string }> {
    let after: estypes.SortResults | undefined;
    for (;;) {
      const res = await this.#client.search<PipewardenEvent>({
        index: this.#events,
        size: TRAIL_PAGE,
        _source: ['event.id', 'event.ingested'],
        query: {
          bool: {
            must_not: [{ exists: { field: TP } }],
            filter: [{ range: { 'event.ingested': { gte: since } } }],
          },
        },
        sort: [{ 'event.ingested': 'asc' }, { 'event.id': 'asc' }],
        ...(after ? { search_after: after } : {}),
      });
      for (const h of res.hits.hits)
        yield { id: h._source?.event?.id ?? h._id ?? '', ingested: h._source?.event?.ingested ?? '' };
      if (res.hits.hits.length < TRAIL_PAGE) return;
      after = res.hits.hits.at(-1)?.sort;
    }
  }

  async traceEvents(field: TraceField, values: string[], limit: number): Promise<PipewardenEvent[]> {
    if (values.length === 0) return [];
    const res = await this.#client.search<PipewardenEvent>({
      index: this.#events,
      size: limit,
      query: { bool: { filter: [{ terms: { [`pipewarden.${field}`]: values } }] } },
      sort: [{ '@timestamp': 'asc' }, { 'event.id': 'asc' }],
    });
    return res.hits.hits.flatMap((h) => (h._source ? [h._source] : []));
  }

  /** The data stream's write index, looked up again every minute (a rollover moves it). */
  async #currentWriteIndex(): Promise<string> {
    if (this.#writeIndex && Date.now() - this.#writeIndex.at < 60_000) return this.#writeIndex.name;
    const name = (await this.#backingIndices()).write ?? this.#events;
    this.#writeIndex = { name, at: Date.now() };
    return name;
  }
  // --- end trail ---------------------------------------------------------------------------------------

  async refresh(): Promise<void> {
    await this.#client.indices.refresh({
      index: [this.#events, this.#alerts, this.#tokens, this.#state, this.#deadletter, this.#checkpoints],
    });
  }

  async ping(): Promise<void> {
    const health = await this.#client.cluster.health();
    if (health.status === 'red') throw new Error(`Elasticsearch cluster ${health.cluster_name} is red`);
    // A node that came back empty answers health green: the store is ready only with its indices.
    const all = [this.#events, this.#alerts, this.#tokens, this.#state, this.#deadletter];
    if (!(await this.#client.indices.exists({ index: all, allow_no_indices: false }))) {
      await this.#recreate('some of its indices');
    }
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  /** search_after on (@timestamp desc, id desc); the total counts the filter regardless of the cursor. */
  async #page<T>(
    index: string,
    filter: estypes.QueryDslQueryContainer[],
    idField: string,
    query: { size?: number; cursor?: string },
  ): Promise<Page<T>> {
    const size = pageSize(query.size);
    const res = await this.#client.search<T>({
      index,
      size: size + 1, // one more than the page tells whether a next page exists
      query: { bool: { filter } },
      sort: [{ '@timestamp': 'desc' }, { [idField]: 'desc' }],
      track_total_hits: true,
      ...(query.cursor !== undefined ? { search_after: decodeCursor(query.cursor) } : {}),
    });
    const hits = res.hits.hits.slice(0, size);
    const sort = hits.at(-1)?.sort;
    const total = res.hits.total;
    return {
      total: typeof total === 'number' ? total : (total?.value ?? 0),
      items: hits.map((h) => h._source as T),
      ...(res.hits.hits.length > size && sort
        ? { next: encodeCursor([sort[0] as number, sort[1] as string]) }
        : {}),
    };
  }

  /**
   * The events whose ids no backing index of the data stream holds yet. A write not yet refreshed is not
   * found here, but it sits in the current write index, where `create` answers 409 anyway.
   */
  /**
   * The events data stream's backing indices: the write one (the newest generation,
   * `.ds-<stream>-<date>-<generation>`) and the older ones. `_resolve/index` is core (GET _data_stream is
   * not on every node).
   */
  async #backingIndices(): Promise<{ write: string | undefined; older: string[] }> {
    const { data_streams: streams } = await this.#client.indices.resolveIndex({ name: this.#events });
    const found = streams.find((d) => d.name === this.#events)?.backing_indices ?? [];
    const backing = typeof found === 'string' ? [found] : found;
    const generation = (name: string) => Number(name.slice(name.lastIndexOf('-') + 1)) || 0;
    const newest = Math.max(...backing.map(generation));
    return {
      write: backing.find((name) => generation(name) === newest),
      older: backing.filter((name) => generation(name) !== newest),
    };
  }

  /**
   * A create keyed by id answers 409 for an event already in the write index, so only the stream's older
   * backing indices (after a rollover) need asking. Most of the time there are none and nothing is asked.
   * (A rollover landing between this look-up and the bulk could still let one redelivered event in twice:
   * a window of one round trip, once per rollover.)
   */
  async #notYetIndexed(events: PipewardenEvent[]): Promise<PipewardenEvent[]> {
    const { older } = await this.#backingIndices();
    if (older.length === 0) return events;
    const res = await this.#client.search({
      index: older.join(','),
      size: events.length,
      _source: false,
      ignore_unavailable: true,
      query: { ids: { values: events.map((e) => e.event.id) } },
    });
    const existing = new Set(res.hits.hits.map((h) => h._id));
    return existing.size ? events.filter((e) => !existing.has(e.event.id)) : events;
  }

  async #deadLetter(refused: Array<{ event: PipewardenEvent; type: string; reason: string }>): Promise<void> {
    const at = new Date().toISOString();
    const operations = refused.flatMap(({ event, type, reason }) => [
      { index: { _index: this.#deadletter, _id: event.event.id } },
      {
        event_id: event.event.id,
        '@timestamp': at,
        source: event.pipewarden.source,
        error_type: type,
        reason,
        document: JSON.stringify(event),
      },
    ]);
    const res = await this.#client.bulk({ operations, refresh: false });
    if (res.errors)
      throw new Error(`Elasticsearch refused ${refused.length} events, and their dead letters too`);
    this.#log?.error(
      {
        index: this.#deadletter,
        events: refused.map((r) => r.event.event.id),
        reasons: refused.map((r) => r.type),
      },
      'Elasticsearch refused events for good; kept them in the dead-letter index.',
    );
  }

  /**
   * Before a write to a plain index: if it vanished (the node came back empty, someone deleted it), set
   * the store up again first, so the write neither fails forever nor auto-creates an unmapped index.
   */
  async #ensure(index: string): Promise<void> {
    if (!(await this.#client.indices.exists({ index }))) await this.#recreate(index);
  }

  #recreate(what: string): Promise<void> {
    this.#recreating ??= (async () => {
      this.#log?.warn(
        { missing: what },
        'Elasticsearch lost the store; creating its templates and indices again.',
      );
      try {
        await this.init();
      } finally {
        this.#recreating = undefined;
      }
    })();
    return this.#recreating;
  }

  async #ensureIndex(index: string, mappings: estypes.MappingTypeMapping): Promise<void> {
    const created = await ignoreExists(this.#client.indices.create({ index, settings: SETTINGS, mappings }));
    // Already there: add fields mapped since it was created (additive changes only).
    if (!created) await this.#client.indices.putMapping({ index, ...mappings });
  }
}

function isIndexNotFound(err: unknown): boolean {
  return err instanceof errors.ResponseError && err.body?.error?.type === 'index_not_found_exception';
}

/** Resolves true when created, false when it already existed. */
export async function ignoreExists(request: Promise<unknown>): Promise<boolean> {
  try {
    await request;
    return true;
  } catch (err) {
    if (
      err instanceof errors.ResponseError &&
      err.body?.error?.type === 'resource_already_exists_exception'
    ) {
      return false;
    }
    throw err;
  }
}

/** The document as indexed: the event plus its normalised free text (excluded from _source). */
function withSearchText(e: PipewardenEvent): PipewardenEvent & { pipewarden: { search_text: string } } {
  return { ...e, pipewarden: { ...e.pipewarden, search_text: searchText(e) } };
}

function term(field: string, value: string | undefined): estypes.QueryDslQueryContainer[] {
  return value === undefined ? [] : [{ term: { [field]: value } }];
}

function timeRange(query: { from?: string; to?: string }): estypes.QueryDslQueryContainer[] {
  if (query.from === undefined && query.to === undefined) return [];
  const range: estypes.QueryDslDateRangeQuery = { format: 'epoch_millis' };
  if (query.from !== undefined) range.gte = String(parseTime(query.from, 'from'));
  if (query.to !== undefined) range.lt = String(parseTime(query.to, 'to'));
  return [{ range: { '@timestamp': range } }];
}

/**
 * User text to literal phrases, one per whitespace-separated term, all required. Phrases go through the
 * analyser, never a query parser, so `"`, `*`, `-`, `:` or `AND` cannot raise a syntax error.
 */
function textTerms(q: string | undefined): string[] {
  return (q ?? '')
    .replace(/\p{Cc}/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
}
