// The store: the searchable audit trail, the hits with their delivery status, and API tokens.
// Elasticsearch in production, SQLite with FTS5 embedded.

import type { Silence } from '../alerting/silences.ts';
import type { AlertRecord, Severity } from '../alerting/types.ts';
import type { EventKind, PipewardenEvent } from '../event.ts';
import type { QueryNode } from '../search/query.ts';
import type { Checkpoint, TrailLink } from '../trail/types.ts';

export interface EventQuery {
  from?: string; // ISO time, inclusive, on @timestamp
  to?: string; // ISO time, exclusive
  source?: string; // pipewarden.source (adapter id)
  kind?: EventKind;
  actor?: string; // user.name, exact
  repository?: string; // pipewarden.repository, exact
  action?: string; // event.action, exact (the vendor's name, e.g. "protected_branch.destroy")
  ip?: string; // source.ip: an address or a CIDR block (callers validate it)
  q?: string; // free text over message, action, actor, repository and the other text fields
  size?: number; // page size, 1..500 (default 50)
  cursor?: string; // opaque, from the previous page's `next`
}

export interface IndexOptions {
  /**
   * Some events may already be indexed (the bus redelivers after a restart, a rebalance or a failed
   * attempt). A store whose id uniqueness has gaps (an Elasticsearch data stream: ids are unique per
   * backing index, so a rollover in between would let a redelivery in twice) checks first.
   */
  mayBeRedelivered?: boolean;
  /**
   * A JSON text of each event exactly as it is (as text or its UTF-8 bytes): the bus message it was read
   * from (nothing changed since), or for a chained event its hashed text with the link spliced in
   * (src/trail/chain.ts link()). A store that sends JSON (Elasticsearch) may send it as it is rather than
   * serialise the event again.
   */
  sourceTexts?: ReadonlyMap<PipewardenEvent, string | Uint8Array>;
  /**
   * trail (Store.trailKeepsDuplicates): a chained event whose id is stored already (another delivery of it)
   * is kept as a duplicate delivery, under its bus position, so its link stays in the chain.
   */
  keepDuplicates?: boolean;
}

export interface AlertQuery {
  from?: string;
  to?: string;
  detector?: string;
  severity?: string;
  status?: AlertRecord['status'];
  size?: number;
  cursor?: string;
}

/** Newest first. `next` is set when more results exist; pass it back as `cursor`. */
export interface Page<T> {
  total: number;
  items: T[];
  next?: string;
}

/** The correlation fields a trace follows (`pipewarden.<field>`). */
export const TRACE_FIELDS = ['commit', 'deployment_id', 'build_id', 'artifact', 'artifact_digest'] as const;
export type TraceField = (typeof TRACE_FIELDS)[number];
export const TOKEN_ROLES = ['viewer', 'analyst', 'admin'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

export interface HistogramRange {
  from: number; // epoch ms
  to: number;
  interval: number; // ms
}

export interface HistogramBucket {
  t: string; // ISO start of the bucket
  n: number;
}

/** Dense buckets from `from` (aligned down) to `to`, with the counts found (keyed by bucket start ms). */
export function denseBuckets(range: HistogramRange, counts: Map<number, number>): HistogramBucket[] {
  const out: HistogramBucket[] = [];
  const start = Math.floor(range.from / range.interval) * range.interval;
  for (let t = start; t < range.to && out.length < 1000; t += range.interval) {
    out.push({ t: new Date(t).toISOString(), n: counts.get(t) ?? 0 });
  }
  return out;
}

/** A console session. Keyed by a hash of its id: the id (the cookie value) is never stored. */
export interface SessionRecord {
  /** Hex SHA-256 of the session id. */
  id: string;
  tokenId: string; // the token it was opened with: revoking the token ends it
  createdAt: string;
  /** Idle expiry: refused from then on; moved forward as the session is used. */
  expiresAt: string;
}

/** Which sessions to delete: one, every one of a token, or every one expired before a time (ISO). */
export type SessionSelector = { id: string } | { tokenId: string } | { expiredBefore: string };

/** The console inbox's filters, done by the store (src/console/plugin.ts). Keyword fields ignore case. */
export interface InboxQuery {
  /** The triage state (an alert without triage is open; silenced alerts are none of the three), or silenced. */
  status?: 'open' | 'acknowledged' | 'resolved' | 'silenced';
  minSeverity?: Severity;
  detector?: string;
  source?: string;
  /** owner/name (exact), or an organisation: owner or owner/* (every repository under it). */
  repository?: string;
  actor?: string;
  from?: string; // ISO, inclusive
  to?: string; // ISO, exclusive
  size?: number;
  cursor?: string;
}

/** A page of the inbox, newest first, with the matching alerts counted per severity (total: their sum). */
export interface InboxPage extends Page<AlertRecord> {
  counts: Record<Severity, number>;
}

export interface TokenRecord {
  id: string; // public part of the token, used for lookup
  name: string;
  hash: string; // hex SHA-256 of the whole token; the token itself is never stored
  createdAt: string;
  /** viewer reads; analyst also acts on alerts and silences; admin also manages tokens. Absent: admin (made before roles). */
  role?: TokenRole;
  expiresAt?: string; // refused from then on; absent: never expires
  revokedAt?: string; // refused from then on
  lastUsedAt?: string; // updated at most once a minute
}

export interface Store {
  readonly kind: 'elasticsearch' | 'sqlite';
  /** Create indices, templates, tables. Idempotent. */
  init(): Promise<void>;
  /** Idempotent by event.id: indexing the same event twice leaves one document. */
  indexEvents(events: PipewardenEvent[], options?: IndexOptions): Promise<void>;
  searchEvents(query: EventQuery): Promise<Page<PipewardenEvent>>;
  getEvent(id: string): Promise<PipewardenEvent | undefined>;
  /** Insert or replace the alert by id (hit id). */
  putAlert(alert: AlertRecord): Promise<void>;
  getAlert(id: string): Promise<AlertRecord | undefined>;
  searchAlerts(query: AlertQuery): Promise<Page<AlertRecord>>;
  putToken(token: TokenRecord): Promise<void>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  /** Every token record (revoked ones too), oldest first. */
  listTokens(): Promise<TokenRecord[]>;
  // --- console search: a parsed query (src/search/query.ts), compiled by each store; same events in both ---
  queryEvents(query: QueryNode, page: { size?: number; cursor?: string }): Promise<Page<PipewardenEvent>>;
  /** Matching events per bucket of `interval` ms from `from` (aligned down to the interval) to `to`. */
  eventHistogram(query: QueryNode, range: HistogramRange): Promise<HistogramBucket[]>;
  /**
   * Every event matching, newest first, as the stored JSON documents (redacted at ingest), in batches:
   * for export, with no total counted and no per-page cursor round trip.
   */
  exportEvents(query: QueryNode): AsyncIterable<string[]>;
  // --- end console search ---
  // --- console: sessions and the inbox ---
  /** Insert or replace by id (the hash). */
  putSession(session: SessionRecord): Promise<void>;
  /**
   * Moves an existing session's expiry; false when it is gone (ended elsewhere): never creates one, so a
   * replica's late touch cannot bring back a session signed out on another.
   */
  touchSession(id: string, expiresAt: string): Promise<boolean>;
  /** Real-time: a session written by another process is found at once. */
  getSession(id: string): Promise<SessionRecord | undefined>;
  /** Deletes the selected sessions; how many. */
  deleteSessions(which: SessionSelector): Promise<number>;
  inboxAlerts(query: InboxQuery): Promise<InboxPage>;
  // --- end console: sessions and the inbox ---
  /**
   * Small named state documents (poller cursors, detector state snapshots), JSON text. Last write wins;
   * get is read-your-writes (no refresh needed).
   */
  putState(key: string, value: string): Promise<void>;
  getState(key: string): Promise<string | undefined>;
  /**
   * Deletes events past the retention the store enforces itself (embedded SQLite: storeRetentionDays),
   * returning how many. Absent when the store has none to run (Elasticsearch: the data stream lifecycle
   * set in its template does it). The index role calls it at start and hourly.
   */
  sweepRetention?(now: Date): Promise<number>;
  // --- trail (src/trail): chain-ordered reads and checkpoints ---------------------------------------
  /**
   * Which of these event ids are stored, each with its chain link (null: stored without one). Real-time.
   * Asked after a start, a rebalance or a failed attempt (see trailAppend and trailKeepsDuplicates).
   */
  trailExisting(ids: string[]): Promise<Map<string, TrailLink | null>>;
  /** The chained event of `partition` with the greatest offset below `offset` (the link to continue from). */
  trailLinkBefore(partition: number, offset: number): Promise<PipewardenEvent | undefined>;
  /**
   * Transactional stores (SQLite): stores chained events, and the checkpoint they complete if given, all
   * or nothing. Returns false, having written nothing, when any of them is already stored (a redelivery:
   * the index role then checks with trailExisting). Lets the index role skip that check per batch.
   */
  trailAppend?(events: PipewardenEvent[], checkpoint?: Checkpoint): Promise<boolean>;
  /**
   * The text the store keeps byte for byte for a chained event read from the bus message `text`, and gives
   * back with the events trailChain reads (withStoredText); undefined when it cannot keep that one. Links
   * then hash the bus message's own text (version 3) rather than a serialisation of the event (version 2).
   * SQLite: the text itself. Elasticsearch: the text on one line (a bulk body is one document per line),
   * where the events' write index keeps `_source` as sent.
   *
   * Given the message's bytes (ConsumedMessage.bytes, Kafka), a store that keeps them as they are returns
   * them (or a view of them), only where they are valid UTF-8, so the index role neither decodes the message
   * nor encodes it again: they are hashed and sent as they are. Otherwise it returns the text it keeps.
   */
  trailKeptText?(value: string | Uint8Array, e: PipewardenEvent): string | Uint8Array | undefined;
  /**
   * For a store that cannot append a batch all-or-nothing (trailAppend): every delivery is chained, none
   * looked up first. One whose event another delivery stored already (a create refused as existing) is kept
   * as a duplicate delivery with its link (IndexOptions.keepDuplicates), which trailChain and
   * trailLinkBefore read with the events (marked: duplicateDelivery in src/trail/chain.ts). The chain
   * then has every link, and a redelivered batch chains again to the same links.
   */
  readonly trailKeepsDuplicates?: boolean;
  /** Create-only by (partition, n): writing the same checkpoint again changes nothing. */
  putTrailCheckpoint(checkpoint: Checkpoint): Promise<void>;
  /** Every stored checkpoint (of one partition), by partition then number. */
  trailCheckpoints(partition?: number): Promise<Checkpoint[]>;
  /** The partitions that have chained events. */
  trailPartitions(): Promise<number[]>;
  /** The chained events of `partition` from `fromOffset` on, by offset then id, streamed page by page. */
  trailChain(partition: number, fromOffset: number): AsyncIterable<PipewardenEvent>;
  /** Events with no chain link ingested at or after `since` (ISO), streamed. */
  trailUnchained(since: string): AsyncIterable<{ id: string; ingested: string }>;
  /** Events whose `pipewarden.<field>` is one of `values`, oldest first, at most `limit` (trace). */
  traceEvents(field: TraceField, values: string[], limit: number): Promise<PipewardenEvent[]>;
  // --- end trail ---------------------------------------------------------------------------------

  // --- silences (src/alerting/silences.ts): one document each, so writers at once never lose one ---------
  /** Insert or replace the silence by id; read-your-writes (listSilences sees it at once). */
  putSilence(silence: Silence): Promise<void>;
  getSilence(id: string): Promise<Silence | undefined>;
  /** Silences ending after `endedAfter` (ISO), oldest created first, at most 10,000. */
  listSilences(endedAfter: string): Promise<Silence[]>;
  // --- end silences ------------------------------------------------------------------------------------

  /** Make writes visible to search now (Elasticsearch refresh). For tests and the CLI. */
  refresh(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
