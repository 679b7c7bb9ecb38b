// The production store: events in a data stream, alerts and tokens in plain indices, ECS field names.
import { isUtf8 } from 'node:buffer';
import { Client, type ClientOptions, errors, type estypes } from '@elastic/elasticsearch';
import { z } from 'zod';
import type { Silence } from '../alerting/silences.ts';
import { type AlertRecord, SEVERITIES, type Severity, severityRank } from '../alerting/types.ts';
import { secretRef } from '../config/secrets.ts';
import type { PipewardenEvent } from '../event.ts';
import type { Logger } from '../log.ts';
import { SEARCH_TEXT, toElasticsearch } from '../search/compile-elasticsearch.ts';
import type { QueryNode } from '../search/query.ts';
import { normalizeText, searchText } from '../search/text.ts';
import { markDuplicate, unlinkedText, withStoredText } from '../trail/chain.ts';
import type { Checkpoint, TrailLink } from '../trail/types.ts';
import { bufferOf } from '../util/bytes.ts';
import { DocumentWriter } from './document-writer.ts';
import { decodeCursor, encodeCursor, pageSize, parseTime } from './paging.ts';
import { RawHitsError, rawHits } from './raw-hits.ts';
import {
  type AlertQuery,
  denseBuckets,
  type EventQuery,
  type HistogramBucket,
  type HistogramRange,
  type InboxPage,
  type InboxQuery,
  type IndexOptions,
  type Page,
  type SessionRecord,
  type SessionSelector,
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
/** How long a plain index found in place is not looked for again before a write (#ensure). */
const ENSURE_EVERY_MS = 1_000;
const keyword = { type: 'keyword', ignore_above: 1024 } as const;
const searchable = { ...keyword, copy_to: TEXT } as const;
const date = { type: 'date' } as const;

// --- trail (src/trail) ---------------------------------------------------------------------------------
// The chain link and the correlation fields a trace searches; checkpoints in their own create-only index.
const TRAIL_EVENT_FIELDS: Record<string, estypes.MappingProperty> = {
  trail: {
    // Only what the trail searches and sorts by. The rest of the link (seq, prev, hash) is in `_source`
    // alone: two random 64-character hashes indexed with doc values were most of a chained document's
    // extra size (10,000 1 kB events: 9.2 instead of 6.4 MB) and indexing time. (Streams made before keep
    // their mapping of them; a mapping may not drop a field.)
    properties: {
      partition: { type: 'integer' },
      offset: { type: 'long' },
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
// A duplicate delivery's document as an event's (kept text, link, search text), found by partition and offset.
const DUPLICATE_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: {
    event: { properties: { id: keyword } },
    pipewarden: { properties: { trail: TRAIL_EVENT_FIELDS.trail! } },
  },
};
const TRAIL_PAGE = 1000;
const TP = 'pipewarden.trail.partition';
/**
 * A version 3 link's place in its document: a dotted field after the kept text (see documentSuffix), so
 * the text the link hashes is the document's start, byte for byte. Indexed as pipewarden.trail all the same.
 */
const TRAIL_FIELD = 'pipewarden.trail';
const TO = 'pipewarden.trail.offset';
// --- end trail -----------------------------------------------------------------------------------------

// dynamic: false keeps an unmapped field an adapter adds later in _source without indexing it; 'strict'
// would reject the whole event and stall the index consumer over a harmless new field.
// `_source` filters nothing: Elasticsearch then keeps each document's text exactly as sent and gives it back so,
// which the trail's version 3 links hash (a filter makes it re-serialise every document). The search text is
// therefore in `_source` too (a few hundred bytes of names and words next to a 1-7 KB event; readers drop it:
// eventFromSource). A stream made before filtered it out: setUp rolls it over to a backing index of this mapping.
export const EVENT_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
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

// Console sessions, by the hash of their id (src/api/auth.ts); written only by our own code.
const SESSION_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: { id: keyword, tokenId: keyword, createdAt: date, expiresAt: date },
};
/** Export: hits per page (search_after in a point in time; no total), time windows read at once, pages ahead each. */
const EXPORT_PAGE = 5_000;
const EXPORT_WINDOWS = 4;
const EXPORT_AHEAD = 2;

// Opaque JSON text: stored, never searched.
const STATE_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: { value: { type: 'keyword', index: false, doc_values: false }, updatedAt: date },
};

// Silences (src/alerting/silences.ts), one document each; the matchers are kept, not searched.
const SILENCE_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    id: keyword,
    matchers: { type: 'object', enabled: false },
    startsAt: date,
    endsAt: date,
    createdBy: keyword,
    createdAt: date,
    comment: { type: 'keyword', index: false, doc_values: false },
    expiredBy: keyword,
    matchAll: { type: 'boolean' },
  },
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
  readonly #sessions: string;
  readonly #retentionDays: number | undefined;
  /** A re-initialisation in flight (indices found missing), shared by every writer that finds them so. */
  #recreating: Promise<void> | undefined;
  readonly #bodies = new BodyBuffers();
  readonly #checkpoints: string;
  /** trail: duplicate deliveries kept with their links (Store.trailKeepsDuplicates). */
  readonly #duplicates: string;
  readonly trailKeepsDuplicates = true;
  readonly #setup: ElasticsearchConfig['setup'];
  #writeIndex: { name: string; at: number } | undefined;
  /** trail: the events' write index keeps `_source` as sent (#writeIndexKeepsSource). */
  #keepsSource = false;
  /** Alert records and state documents written at the same time go out in one bulk (document-writer.ts). */
  readonly #documents: DocumentWriter;
  /** Plain indices found in place, and when (#ensure). */
  readonly #found = new Map<string, number>();

  constructor(config: ElasticsearchConfig, options: { log?: Logger } = {}) {
    this.#client = createElasticsearchClient(config);
    this.#documents = new DocumentWriter(this.#client);
    this.#log = options.log;
    this.#prefix = config.indexPrefix;
    this.#events = `${config.indexPrefix}-events`;
    this.#alerts = `${config.indexPrefix}-alerts`;
    this.#tokens = `${config.indexPrefix}-tokens`;
    this.#state = `${config.indexPrefix}-state`;
    this.#deadletter = `${config.indexPrefix}-deadletter`;
    this.#sessions = `${config.indexPrefix}-sessions`;
    this.#retentionDays = config.retentionDays;
    this.#checkpoints = `${config.indexPrefix}-trail-checkpoints`;
    this.#duplicates = `${config.indexPrefix}-trail-duplicates`;
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
  /** The indices a `setup: separate` start checks for (all the store uses but the sessions index). */
  #setUpIndices(): string[] {
    return [
      this.#events,
      this.#alerts,
      this.#tokens,
      this.#state,
      this.#deadletter,
      this.#checkpoints,
      this.#duplicates,
    ];
  }

  async #checkSetUp(): Promise<void> {
    const missing: string[] = [];
    for (const index of this.#setUpIndices()) {
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
    this.#keepsSource = await this.#writeIndexKeepsSource(false);
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
      [this.#sessions, SESSION_MAPPINGS],
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
    this.#keepsSource = await this.#writeIndexKeepsSource(true);
    await this.#ensureIndex(this.#alerts, ALERT_MAPPINGS);
    await this.#ensureIndex(this.#tokens, TOKEN_MAPPINGS);
    await this.#ensureIndex(this.#state, STATE_MAPPINGS);
    await this.#ensureIndex(this.#deadletter, DEADLETTER_MAPPINGS);
    await this.#ensureIndex(this.#sessions, SESSION_MAPPINGS);
    // trail: a stream made before these fields existed gets them now (its current backing index).
    await c.indices.putMapping({
      index: this.#events,
      properties: { pipewarden: { properties: TRAIL_EVENT_FIELDS } },
    });
    await this.#ensureIndex(this.#checkpoints, CHECKPOINT_MAPPINGS);
    await this.#ensureIndex(this.#duplicates, DUPLICATE_MAPPINGS);
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
    const parts = bulkParts(this.#events, events, options.sourceTexts);
    const buffer = this.#bodies.take(parts.reduce((n, p) => n + p.byteLength, 0));
    const body = buffer.subarray(0, writeParts(buffer, parts));
    // require_data_stream: if the data stream is gone (the node came back empty), a write must not
    // auto-create a plain index with guessed mappings; it fails, and the store is set up again.
    let res = await this.#bulkCreate(body);
    if (res.errors && res.items.some((i) => i.create?.error?.type === 'index_not_found_exception')) {
      await this.#recreate(`the ${this.#events} data stream`);
      res = await this.#bulkCreate(body);
    }
    // Sent and answered: the buffer is free again. (Not after a failure: an error may still refer to it.)
    this.#bodies.give(buffer);
    if (!res.errors) return;
    if (options.keepDuplicates) {
      const again = events.filter((e, i) => res.items[i]?.create?.status === 409 && e.pipewarden.trail);
      if (again.length > 0) await this.#keepDuplicates(again, options.sourceTexts);
    }
    const failures: string[] = [];
    const refused: Array<{ event: PipewardenEvent; type: string; reason: string }> = [];
    res.items.forEach((item, i) => {
      const r = item.create;
      if (!r?.error || r.status === 409) return;
      // 400: this document can never be indexed as it is (mapping conflict); anything else may pass later.
      if (r.status === 400)
        refused.push({ event: events[i]!, type: r.error.type, reason: r.error.reason ?? '' });
      else failures.push(`${events[i]?.event.id}: ${r.error.type}: ${r.error.reason ?? ''}`);
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
    const src = res.hits.hits[0]?._source;
    return src && eventFromSource(src);
  }

  async putAlert(alert: AlertRecord): Promise<void> {
    await this.#ensure(this.#alerts);
    await this.#documents.write(this.#alerts, alert.id, alert);
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

  // --- silences (src/alerting/silences.ts): a document each in <prefix>-silences, made on first use -----
  #silencesReady: Promise<string> | undefined;
  #silenceIndex(): Promise<string> {
    const index = `${this.#prefix}-silences`;
    this.#silencesReady ??= (async () => {
      await this.#client.indices.putIndexTemplate({
        name: index,
        index_patterns: [index],
        template: { settings: SETTINGS, mappings: SILENCE_MAPPINGS },
        priority: 200,
        _meta: { managed_by: 'pipewarden' },
      });
      await this.#ensureIndex(index, SILENCE_MAPPINGS);
      return index;
    })().catch((err: unknown) => {
      this.#silencesReady = undefined;
      throw err;
    });
    return this.#silencesReady;
  }

  async putSilence(silence: Silence): Promise<void> {
    const index = await this.#silenceIndex();
    // wait_for: the list right after a create or expire shows it (silences change rarely)
    await this.#client.index({ index, id: silence.id, document: silence, refresh: 'wait_for' });
  }

  async getSilence(id: string): Promise<Silence | undefined> {
    const index = await this.#silenceIndex();
    const res = await this.#client.get<Silence>({ index, id }, { ignore: [404] });
    return res.found ? res._source : undefined;
  }

  async listSilences(endedAfter: string): Promise<Silence[]> {
    const index = await this.#silenceIndex();
    const res = await this.#client.search<Silence>({
      index,
      size: 10_000,
      query: { range: { endsAt: { gt: endedAfter } } },
      sort: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    return res.hits.hits.flatMap((h) => (h._source ? [h._source] : []));
  }
  // --- end silences ------------------------------------------------------------------------------------

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

  async *exportEvents(query: QueryNode): AsyncIterable<string[]> {
    // A point in time: one consistent view however long the export takes, pages without a total.
    const { id } = await this.#client.openPointInTime({ index: this.#events, keep_alive: '2m' });
    try {
      // Contiguous time windows read at once (one search each; a lone search_after stream leaves the
      // node's other search threads idle), each a few pages ahead, handed out newest window first: the
      // order is (time desc, id desc) as in the search table, and memory stays bounded.
      const windows = await this.#exportWindows(id, query);
      const streams = windows.map((w) => readAhead(this.#exportWindow(id, query, w), EXPORT_AHEAD));
      for (const stream of streams) yield* stream;
    } finally {
      await this.#client.closePointInTime({ id }).catch(() => undefined);
    }
  }

  /** Up to EXPORT_WINDOWS time ranges of about equal counts, newest first ({} when the match is small). */
  async #exportWindows(pit: string, query: QueryNode): Promise<Array<{ gte?: number; lt?: number }>> {
    const percents = Array.from({ length: EXPORT_WINDOWS - 1 }, (_, i) => ((i + 1) * 100) / EXPORT_WINDOWS);
    const res = await this.#client.search({
      pit: { id: pit, keep_alive: '2m' },
      size: 0,
      query: toElasticsearch(query),
      track_total_hits: EXPORT_PAGE * 2,
      aggs: { t: { percentiles: { field: '@timestamp', percents } } },
    });
    const total = res.hits.total;
    const n = typeof total === 'number' ? total : (total?.value ?? 0);
    if (n < EXPORT_PAGE * 2) return [{}];
    const values = (res.aggregations?.t as { values?: Record<string, number | null> } | undefined)?.values;
    const cuts = [
      ...new Set(Object.values(values ?? {}).flatMap((v) => (typeof v === 'number' ? [Math.round(v)] : []))),
    ].sort((a, b) => b - a);
    if (cuts.length === 0) return [{}];
    return [
      { gte: cuts[0]! },
      ...cuts.slice(1).map((c, i) => ({ gte: c, lt: cuts[i]! })),
      { lt: cuts.at(-1)! },
    ];
  }

  async *#exportWindow(
    pit: string,
    query: QueryNode,
    window: { gte?: number; lt?: number },
  ): AsyncIterable<string[]> {
    const range =
      window.gte === undefined && window.lt === undefined
        ? []
        : [
            {
              range: {
                '@timestamp': {
                  format: 'epoch_millis',
                  ...(window.gte !== undefined ? { gte: String(window.gte) } : {}),
                  ...(window.lt !== undefined ? { lt: String(window.lt) } : {}),
                },
              },
            },
          ];
    let after: estypes.SortResults | undefined;
    for (;;) {
      const res = await this.#client.search<PipewardenEvent>({
        pit: { id: pit, keep_alive: '2m' },
        size: EXPORT_PAGE,
        query: { bool: { filter: [toElasticsearch(query), ...range] } },
        sort: [{ '@timestamp': 'desc' }, { 'event.id': 'desc' }],
        track_total_hits: false,
        _source_excludes: [SEARCH_TEXT],
        filter_path: ['hits.hits._source', 'hits.hits.sort'],
        ...(after ? { search_after: after } : {}),
      });
      const hits = res.hits?.hits ?? [];
      if (hits.length > 0) yield hits.map((h) => JSON.stringify(h._source && eventFromSource(h._source)));
      if (hits.length < EXPORT_PAGE) return;
      after = hits.at(-1)?.sort;
    }
  }

  // --- end console search ---

  // --- console: sessions and the inbox ---

  async putSession(session: SessionRecord): Promise<void> {
    await this.#ensure(this.#sessions);
    await this.#client.index({ index: this.#sessions, id: session.id, document: session, refresh: false });
  }

  async touchSession(id: string, expiresAt: string): Promise<boolean> {
    try {
      // A partial update, never an upsert: a document deleted meanwhile answers 404.
      await this.#client.update({ index: this.#sessions, id, doc: { expiresAt }, refresh: false });
      return true;
    } catch (err) {
      if (err instanceof errors.ResponseError && err.statusCode === 404) return false;
      throw err;
    }
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    // Real-time by id: a session opened by another API replica is found without a refresh.
    const res = await this.#client.get<SessionRecord>({ index: this.#sessions, id }, { ignore: [404] });
    return res.found ? res._source : undefined;
  }

  async deleteSessions(which: SessionSelector): Promise<number> {
    if ('id' in which) {
      const res = await this.#client.delete({ index: this.#sessions, id: which.id }, { ignore: [404] });
      return res.result === 'deleted' ? 1 : 0;
    }
    // No _delete_by_query on every node (see DESIGN.md): find the ids, then delete them in bulk.
    const query: estypes.QueryDslQueryContainer =
      'tokenId' in which
        ? { term: { tokenId: which.tokenId } }
        : { range: { expiresAt: { lt: which.expiredBefore } } };
    let deleted = 0;
    for (;;) {
      await this.#client.indices.refresh({ index: this.#sessions }, { ignore: [404] });
      const res = await this.#client.search(
        { index: this.#sessions, size: 1000, _source: false, query },
        { ignore: [404] },
      );
      const ids = (res.hits?.hits ?? []).flatMap((h) => (h._id ? [h._id] : []));
      if (ids.length === 0) return deleted;
      await this.#client.bulk({
        operations: ids.map((id) => ({ delete: { _index: this.#sessions, _id: id } })),
        refresh: true,
      });
      deleted += ids.length;
    }
  }

  async inboxAlerts(query: InboxQuery): Promise<InboxPage> {
    const ci = (field: string, value: string | undefined): estypes.QueryDslQueryContainer[] =>
      value === undefined ? [] : [{ term: { [field]: { value, case_insensitive: true } } }];
    const filter: estypes.QueryDslQueryContainer[] = [
      ...timeRange(query),
      ...term('detector', query.detector),
      ...ci('source', query.source),
      ...ci('actor', query.actor),
    ];
    const mustNot: estypes.QueryDslQueryContainer[] = [];
    if (query.repository !== undefined) {
      const want = query.repository.replace(/\/\*$/, '');
      filter.push(
        want.includes('/')
          ? { term: { repository: { value: want, case_insensitive: true } } }
          : { prefix: { repository: { value: `${want}/`, case_insensitive: true } } },
      );
    }
    if (query.status === 'silenced') filter.push({ term: { status: 'silenced' } });
    else if (query.status !== undefined) {
      mustNot.push({ term: { status: 'silenced' } });
      filter.push(
        query.status === 'open' // an alert nobody acted on has no triage yet
          ? {
              bool: {
                should: [
                  { term: { 'triage.state': 'open' } },
                  { bool: { must_not: [{ exists: { field: 'triage.state' } }] } },
                ],
                minimum_should_match: 1,
              },
            }
          : { term: { 'triage.state': query.status } },
      );
    }
    if (query.minSeverity !== undefined) {
      const at = severityRank(query.minSeverity);
      filter.push({ terms: { severity: SEVERITIES.filter((s) => severityRank(s) >= at) } });
    }
    const size = pageSize(query.size);
    const res = await this.#client.search<AlertRecord>({
      index: this.#alerts,
      size: size + 1,
      query: { bool: { filter, must_not: mustNot } },
      sort: [{ '@timestamp': 'desc' }, { id: 'desc' }],
      track_total_hits: false,
      aggs: { severity: { terms: { field: 'severity', size: SEVERITIES.length + 5 } } },
      ...(query.cursor !== undefined ? { search_after: decodeCursor(query.cursor) } : {}),
    });
    const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
    const buckets = (
      res.aggregations?.severity as { buckets?: Array<{ key: string; doc_count: number }> } | undefined
    )?.buckets;
    for (const b of buckets ?? [])
      if (SEVERITIES.includes(b.key as Severity)) counts[b.key as Severity] = b.doc_count;
    const hits = res.hits.hits.slice(0, size);
    const sort = hits.at(-1)?.sort;
    return {
      total: Object.values(counts).reduce((a, b) => a + b, 0),
      counts,
      items: hits.map((h) => h._source as AlertRecord),
      ...(res.hits.hits.length > size && sort
        ? { next: encodeCursor([sort[0] as number, sort[1] as string]) }
        : {}),
    };
  }

  // --- end console: sessions and the inbox ---

  async putState(key: string, value: string): Promise<void> {
    await this.#ensure(this.#state);
    await this.#documents.write(this.#state, key, { value, updatedAt: new Date().toISOString() });
  }

  async getState(key: string): Promise<string | undefined> {
    // A get by id is real-time in Elasticsearch: it sees the last write without a refresh.
    const res = await this.#client.get<{ value: string }>({ index: this.#state, id: key }, { ignore: [404] });
    return res.found ? res._source?.value : undefined;
  }

  // --- trail (src/trail) -------------------------------------------------------------------------------
  /**
   * The text kept for a chained event read from the bus message `text` (parsed: `e`): the text itself on
   * one line (a bulk body is one document per line; in JSON text a line break can only be whitespace),
   * ending at its root's `}`. Undefined (the link serialises the event, version 2) while the write index
   * re-serialises `_source`, or when the event has a field of the document's suffix (a duplicate key would
   * be refused): asked of the parsed event, not searched for in 7 kB of text (2.5 µs).
   */
  trailKeptText(value: string | Uint8Array, e: PipewardenEvent): string | Uint8Array | undefined {
    if (!this.#keepsSource || Object.hasOwn(e, TRAIL_FIELD) || Object.hasOwn(e, SEARCH_TEXT))
      return undefined;
    if (typeof value !== 'string') {
      // The bytes as they are where they are valid UTF-8 on one line ending with `}` (a bus message as
      // eventMessage writes it: compact JSON), so what is sent is what the link hashed; otherwise the text
      // (decoding replaces what is not UTF-8), changed as below.
      const b = bufferOf(value);
      if (b.length > 0 && b[b.length - 1] === 125 && b.indexOf(10) === -1 && isUtf8(b)) {
        let i = b.length - 2;
        while (i >= 0 && (b[i] === 32 || b[i] === 9 || b[i] === 13)) i--;
        return i < 0 || b[i] === 123 ? undefined : b;
      }
      return this.trailKeptText(b.toString('utf8'), e);
    }
    const text = value;
    let t = text.includes('\n') ? text.replaceAll('\n', ' ') : text;
    if (t.charCodeAt(t.length - 1) !== 125) t = t.trimEnd();
    if (t.charCodeAt(t.length - 1) !== 125) return undefined;
    // `{}` and the like: no member to put the link after.
    if (t.slice(0, -1).trimEnd().endsWith('{')) return undefined;
    return t;
  }

  /**
   * Whether the events' write index keeps `_source` as sent (its mapping filters nothing), which links of
   * version 3 need. `rollover` (setUp): a stream made before this version filtered the search text out of
   * `_source`; it gets a new backing index from the current template. Without the privilege to read the
   * mapping: false (version 2 links, as before).
   */
  async #writeIndexKeepsSource(rollover: boolean): Promise<boolean> {
    let write: string | undefined;
    try {
      write = (await this.#backingIndices()).write;
      if (write === undefined) return false;
      const res = await this.#client.indices.getMapping({ index: write });
      const source = res[write]?.mappings?._source;
      const filtered =
        source !== undefined &&
        ((source.excludes?.length ?? 0) > 0 ||
          (source.includes?.length ?? 0) > 0 ||
          source.enabled === false ||
          (source as { mode?: string }).mode === 'synthetic');
      if (!filtered) return true;
    } catch (err) {
      if (err instanceof errors.ResponseError && err.statusCode === 403) return false;
      throw err;
    }
    if (!rollover) {
      this.#log?.warn(
        { index: write },
        'The events write index filters _source (made before this version): trail links hash a serialisation (version 2) until `pipewarden store init` has rolled the stream over.',
      );
      return false;
    }
    await this.#client.indices.rollover({ alias: this.#events });
    this.#writeIndex = undefined;
    this.#log?.info(
      { was: write },
      'Rolled the events stream over: its new backing index keeps _source as sent.',
    );
    return this.#writeIndexKeepsSource(false);
  }

  async trailExisting(ids: string[]): Promise<Map<string, TrailLink | null>> {
    const out = new Map<string, TrailLink | null>();
    if (ids.length === 0) return out;
    type Doc = { pipewarden?: { trail?: TrailLink }; [TRAIL_FIELD]?: TrailLink };
    const note = (id: string, doc: Doc | undefined) =>
      out.set(id, doc?.[TRAIL_FIELD] ?? doc?.pipewarden?.trail ?? null);
    // Searched: every backing index, as of the last refresh. Got: the write index, real-time; only
    // whether each is there (usually none is), then the links of those that are.
    const writeIndex = await this.#currentWriteIndex();
    const [found, there] = await Promise.all([
      this.#client.search<Doc>({
        index: this.#events,
        size: ids.length,
        _source: [TRAIL_FIELD],
        query: { ids: { values: ids } },
      }),
      this.#client.mget({ index: writeIndex, ids, _source: false, filter_path: ['docs._id', 'docs.found'] }),
    ]);
    for (const h of found.hits.hits) if (h._id) note(h._id, h._source);
    const stored = (there.docs ?? []).flatMap((d) => ('found' in d && d.found ? [d._id] : []));
    if (stored.length > 0) {
      const got = await this.#client.mget<Doc>({
        index: writeIndex,
        ids: stored,
        _source: [TRAIL_FIELD],
      });
      for (const d of got.docs) if ('found' in d && d.found) note(d._id, d._source);
    }
    return out;
  }

  async trailLinkBefore(partition: number, offset: number): Promise<PipewardenEvent | undefined> {
    await this.#client.indices.refresh({ index: [this.#events, this.#duplicates], ignore_unavailable: true });
    const res = await this.#client.search<PipewardenEvent>({
      index: [this.#events, this.#duplicates],
      ignore_unavailable: true,
      size: 1,
      query: { bool: { filter: [{ term: { [TP]: partition } }, { range: { [TO]: { lt: offset } } }] } },
      sort: [{ [TO]: 'desc' }, { 'event.id': 'desc' }],
    });
    const src = res.hits.hits[0]?._source;
    return src && eventFromSource(src);
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

  /**
   * Read as the response's own text: each document's `_source` exactly as stored, which version 3 links
   * hash (chainedEvent); a client's JSON.parse of the response would lose those bytes.
   */
  async *trailChain(partition: number, fromOffset: number): AsyncIterable<PipewardenEvent> {
    let after: estypes.SortResults | undefined;
    for (;;) {
      const text = await this.#rawSearch([this.#events, this.#duplicates], {
        size: TRAIL_PAGE,
        query: {
          bool: { filter: [{ term: { [TP]: partition } }, { range: { [TO]: { gte: fromOffset } } }] },
        },
        sort: [{ [TO]: 'asc' }, { 'event.id': 'asc' }],
        ...(after ? { search_after: after } : {}),
      });
      let hits: ReturnType<typeof rawHits>;
      try {
        hits = rawHits(text);
      } catch (err) {
        if (!(err instanceof RawHitsError)) throw err;
        throw new Error(`Elasticsearch answered a trail search with unreadable JSON (${err.message})`);
      }
      const events = hits.flatMap((h) =>
        h.source === undefined
          ? []
          : [{ e: chainedEvent(h.source), duplicate: h.index === this.#duplicates }],
      );
      // A duplicate delivery stands for an event stored by another delivery: is that event still there?
      const ids = [...new Set(events.filter((x) => x.duplicate).map((x) => x.e.event.id))];
      const held = ids.length > 0 ? await this.#storedIds(ids) : new Set<string>();
      for (const { e, duplicate } of events) yield duplicate ? markDuplicate(e, held.has(e.event.id)) : e;
      if (hits.length < TRAIL_PAGE) return;
      after = hits.at(-1)?.sort as estypes.SortResults | undefined;
    }
  }

  /** Which of `ids` the events data stream holds (all its backing indices). */
  async #storedIds(ids: string[]): Promise<Set<string>> {
    const res = await this.#client.search({
      index: this.#events,
      size: ids.length,
      _source: false,
      query: { ids: { values: ids } },
    });
    return new Set(res.hits.hits.flatMap((h) => (h._id ? [h._id] : [])));
  }

  /**
   * Chained deliveries whose event was stored already (their create was refused as existing), kept with
   * their links under their bus positions: create-only, so keeping one again changes nothing.
   */
  async #keepDuplicates(events: PipewardenEvent[], sources: IndexOptions['sourceTexts']): Promise<void> {
    const body = Buffer.concat(bulkParts(this.#duplicates, events, sources, idOfDuplicate));
    const res = await this.#bulkCreate(body, true);
    const failed = res.items.flatMap((i, n) =>
      i.create?.error && i.create.status !== 409
        ? [`${idOfDuplicate(events[n]!)}: ${i.create.error.type}`]
        : [],
    );
    if (failed.length > 0)
      throw new Error(
        `Elasticsearch refused ${failed.length} duplicate deliveries kept for the trail: ${failed.slice(0, 3).join('; ')}`,
      );
    this.#log?.info(
      { duplicates: events.length, index: this.#duplicates },
      'Kept second deliveries of stored events in the trail.',
    );
  }

  /** A search whose answer is read as text (no filter_path, no source filtering: each _source as stored). */
  async #rawSearch(indices: string[], body: Record<string, unknown>): Promise<string> {
    const res = await this.#client.transport.request<NodeJS.ReadableStream>(
      {
        method: 'POST',
        path: `/${indices.map(encodeURIComponent).join(',')}/_search`,
        querystring: { ignore_unavailable: 'true' },
        body,
      },
      // As sent: the stream is read as it comes, so no compressed answer (should the client ask for one).
      { asStream: true, meta: false, headers: { 'accept-encoding': 'identity' } },
    );
    const chunks: Buffer[] = [];
    for await (const chunk of res)
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
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
    return res.hits.hits.flatMap((h) => (h._source ? [eventFromSource(h._source)] : []));
  }

  /** The data stream's write index, looked up again every minute (a rollover moves it). */
  async #currentWriteIndex(): Promise<string> {
    if (this.#writeIndex && Date.now() - this.#writeIndex.at < 60_000) return this.#writeIndex.name;
    const name = (await this.#backingIndices()).write ?? this.#events;
    const moved = this.#writeIndex !== undefined && this.#writeIndex.name !== name;
    this.#writeIndex = { name, at: Date.now() };
    if (moved) this.#keepsSource = await this.#writeIndexKeepsSource(false); // a rollover: its mapping may differ
    return name;
  }
  // --- end trail ---------------------------------------------------------------------------------------

  async refresh(): Promise<void> {
    await this.#client.indices.refresh({ index: [...this.#setUpIndices(), this.#sessions] });
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
      ...(index === this.#events ? { _source_excludes: [SEARCH_TEXT] } : {}),
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
      items: hits.map(
        (h) => (index === this.#events ? eventFromSource(h._source as object) : h._source) as T,
      ),
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
   * A bulk of creates, its body already NDJSON bytes (the client's bulk() takes operations to serialise;
   * its transport sends a Buffer as it is); into the events data stream unless `plain`.
   */
  #bulkCreate(body: Buffer, plain = false): Promise<estypes.BulkResponse> {
    return this.#client.transport.request<estypes.BulkResponse>(
      {
        method: 'POST',
        path: '/_bulk',
        querystring: {
          refresh: 'false',
          ...(plain ? {} : { require_data_stream: 'true' }),
          // Only what is read of the answer: each item's status and error (in order, so item i is
          // document i), not its index, id, version, shards and sequence numbers — about 230 bytes per
          // document that Elasticsearch wrote and the client parsed, for every document of every bulk.
          filter_path: BULK_ANSWER,
        },
        bulkBody: body,
      },
      { meta: false },
    );
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
    // Looked for once a second at most: a check before each write doubled the alert role's round trips.
    // A node that comes back empty is down for longer than that, so the first write after it is checked;
    // an index deleted under a running node is re-created by a write from its template, mapped.
    const now = Date.now();
    if (now - (this.#found.get(index) ?? Number.NEGATIVE_INFINITY) < ENSURE_EVERY_MS) return;
    if (!(await this.#client.indices.exists({ index }))) await this.#recreate(index);
    this.#found.set(index, now);
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

/**
 * The bulk request body (NDJSON, as bytes, in pieces): a create and the document for each event. A document
 * is made from the JSON the event was read from where there is one (see documentBytes), else serialised.
 */
function bulkParts(
  index: string,
  events: PipewardenEvent[],
  sources: ReadonlyMap<PipewardenEvent, string | Uint8Array> | undefined,
  idOf: (e: PipewardenEvent) => string = (e) => e.event.id,
): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (const e of events) {
    parts.push(Buffer.from(`${JSON.stringify({ create: { _index: index, _id: idOf(e) } })}\n`));
    const source = sources?.get(e);
    const link = e.pipewarden.trail;
    if (link?.v === 3) {
      // The kept text (trailKeptText: one line, ending with its root's `}`, no field of the suffix's; its
      // bytes when the indexer had them), then the link and the search text.
      const kept = source ?? unlinkedText(e);
      const bytes = typeof kept === 'string' ? Buffer.from(kept) : kept;
      parts.push(bytes.subarray(0, bytes.byteLength - 1), Buffer.from(`${documentSuffix(e, link)}\n`));
      continue;
    }
    const doc = source === undefined ? undefined : documentBytes(e, source);
    if (doc) parts.push(...doc);
    else parts.push(Buffer.from(`${JSON.stringify(withSearchText(e))}\n`));
  }
  return parts;
}

/** Copies the parts one after another into `target` (large enough); the bytes written. */
function writeParts(target: Buffer, parts: Uint8Array[]): number {
  let at = 0;
  for (const p of parts) {
    target.set(p, at);
    at += p.byteLength;
  }
  return at;
}

/**
 * Buffers for bulk bodies, kept for the next bulks: a fresh one of several MB per bulk cost its pages
 * anew each time (first touch, zeroed by the kernel), about as much CPU as building the body. A few are
 * kept (one per bulk in flight), none over MAX_KEPT_BODY_BYTES.
 */
class BodyBuffers {
  readonly #free: Buffer[] = [];

  take(size: number): Buffer {
    const i = this.#free.findIndex((b) => b.byteLength >= size);
    if (i >= 0) return this.#free.splice(i, 1)[0]!;
    // Room to grow: the next bulks are often a little larger. Never a slice of Node's shared pool.
    return Buffer.allocUnsafeSlow(size < 64 * 1024 ? size : Math.ceil(size * 1.25));
  }

  give(buffer: Buffer): void {
    if (buffer.byteLength > MAX_KEPT_BODY_BYTES) return;
    this.#free.push(buffer);
    // The largest are the most useful; the smallest go first.
    if (this.#free.length > KEPT_BODIES) {
      this.#free.sort((a, b) => b.byteLength - a.byteLength);
      this.#free.length = KEPT_BODIES;
    }
  }
}
const KEPT_BODIES = 4;
const MAX_KEPT_BODY_BYTES = 32 * 1024 * 1024;

/** The parts of a bulk answer the store reads (filter_path): whether any failed, each item's status and error. */
const BULK_ANSWER = 'errors,items.*.status,items.*.error.type,items.*.error.reason';

/** A kept duplicate delivery's id: its bus position. */
function idOfDuplicate(e: PipewardenEvent): string {
  const l = e.pipewarden.trail!;
  return `${l.partition}:${l.offset}`;
}

/**
 * The document as indexed, made from the JSON the event was read from (text or its UTF-8 bytes): that
 * JSON itself (on one line) with a version 3 `link` and the search text appended as dotted fields
 * (`"pipewarden.trail"`, `"pipewarden.search_text"`, which Elasticsearch indexes into the same fields as
 * nested ones; readers put them back: eventFromSource), so a 7 KB event is neither serialised nor encoded
 * again. Its pieces, the line's end included. Undefined (serialise the event) when the event already has
 * a search text of its own, at the top or in `pipewarden` (a duplicate field would be refused; deeper, a
 * dotted name is another field to Elasticsearch).
 */
function documentBytes(
  e: PipewardenEvent,
  source: string | Uint8Array,
  link?: TrailLink,
): Uint8Array[] | undefined {
  // A field of the search text's name already (the text is the event's: ask the parsed event).
  if ((e.pipewarden as { search_text?: unknown }).search_text !== undefined || Object.hasOwn(e, SEARCH_TEXT))
    return undefined;
  let bytes = typeof source === 'string' ? Buffer.from(source) : bufferOf(source);
  // A bulk body is one document per line. In JSON text a line break can only be whitespace (inside a
  // string it is escaped), so an indented text becomes one line by turning its line breaks into spaces.
  if (bytes.includes(0x0a)) bytes = Buffer.from(bytes.toString('utf8').replaceAll('\n', ' '));
  const end = bytes.lastIndexOf(0x7d); // the root object's own `}`: the text parsed as one JSON object
  if (end < 0) return undefined;
  return [bytes.subarray(0, end), Buffer.from(`${documentSuffix(e, link)}\n`)];
}

/**
 * What follows the event's own text (without its closing `}`) in its document: a version 3 link, then the
 * search text, as dotted fields.
 */
function documentSuffix(e: PipewardenEvent, link: TrailLink | undefined): string {
  const l = link ? `,"${TRAIL_FIELD}":${JSON.stringify(link)}` : '';
  return `${l},"${SEARCH_TEXT}":${JSON.stringify(searchText(e))}}`;
}

/** An event as read from `_source`: without the search text, and a version 3 link put back in its place. */
function eventFromSource<T extends object>(src: T): T {
  const s = src as Record<string, unknown>;
  if (SEARCH_TEXT in s) delete s[SEARCH_TEXT];
  // An event the store serialised itself (withSearchText) has it in place.
  const p = s.pipewarden as Record<string, unknown> | undefined;
  if (typeof p === 'object' && p !== null && 'search_text' in p) delete p.search_text;
  const link = s[TRAIL_FIELD];
  if (link !== undefined) {
    delete s[TRAIL_FIELD];
    if (typeof p === 'object' && p !== null) p.trail = link;
  }
  return src;
}

/**
 * A chained event read by trailChain from its document's text as stored. A version 3 link hashes the kept
 * text, the document's start: the document must be exactly that text, its link and the search text made
 * from it, nothing more. If it is, the event carries the kept text (withStoredText) and its link verifies
 * when the text is intact; if anything else was changed or added (after the link, in the search text),
 * it carries the whole document, which its link does not hash: reported as modified.
 */
export function chainedEvent(source: string): PipewardenEvent {
  const e = eventFromSource(JSON.parse(source) as PipewardenEvent);
  const link = e.pipewarden?.trail;
  if (link?.v !== 3) return e;
  const at = source.lastIndexOf(`,"${TRAIL_FIELD}":{`);
  const kept = at < 0 ? undefined : `${source.slice(0, at)}}`;
  const intact = kept !== undefined && `${source.slice(0, at)}${documentSuffix(e, link)}` === source;
  return withStoredText(e, intact ? kept : source);
}

/**
 * The source's items, started now and kept up to `ahead` ahead of the reader (an async generator queues
 * the calls to next, so it runs its requests one after another while earlier results wait here).
 */
function readAhead<T>(source: AsyncIterable<T>, ahead: number): AsyncIterable<T> {
  const it = source[Symbol.asyncIterator]();
  const pending: Array<Promise<IteratorResult<T>>> = [];
  let ended = false;
  const fill = () => {
    while (!ended && pending.length < ahead) {
      const next = it.next();
      // Seen here so no further calls are queued; the reader gets the rejection where it awaits.
      next.then(
        (r) => {
          if (r.done) ended = true;
        },
        () => {
          ended = true;
        },
      );
      pending.push(next);
    }
  };
  fill();
  return {
    async *[Symbol.asyncIterator]() {
      try {
        while (pending.length > 0) {
          const r = await pending.shift()!;
          if (r.done) return;
          fill();
          yield r.value;
        }
      } finally {
        ended = true;
        await Promise.allSettled(pending);
        await it.return?.(undefined);
      }
    },
  };
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
