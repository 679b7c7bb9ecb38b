// The distributed bus: Kafka through kafkajs. Idempotent producer, manual offset commits after the handler.
// First: installs the native CRC32C where kafkajs will look for its own (it must precede kafkajs), and
// lets kafkajs's encoder keep large buffers by reference instead of copying a request once per level.
import './crc32c.ts';
import './kafkajs-encoder.ts';
import {
  type Admin,
  type ConfigResourceTypes,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type ISocketFactory,
  Kafka,
  type KafkaMessage,
  type logCreator,
  logLevel,
  Partitioners,
  type PartitionMetadata,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import { z } from 'zod';
import { secretRef } from '../config/secrets.ts';
import { createLogger, type Logger } from '../log.ts';
import {
  type Bus,
  BusUnavailableError,
  type ConsumedMessage,
  MessageTooLargeError,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
} from './types.ts';

export const kafkaConfigSchema = z.strictObject({
  brokers: z.array(z.string().min(1)).min(1),
  clientId: z.string().min(1).default('pipewarden'),
  /**
   * Consumer groups are named `<groupPrefix>-index`, `-detect`, `-alert`: two deployments (or test runs)
   * sharing a cluster with different topics need different prefixes, since kafkajs assigns every topic
   * any member of a group subscribes to across all its members.
   */
  groupPrefix: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, dot, underscore and dash only (at most 100)')
    .default('pipewarden'),
  partitions: z.number().int().min(1).default(3),
  replicationFactor: z.number().int().min(1).default(1),
  ssl: z.boolean().default(false),
  sasl: z
    .strictObject({
      mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
      username: z.string().min(1),
      passwordEnv: secretRef('PIPEWARDEN_KAFKA_PASSWORD'),
    })
    .refine((sasl) => sasl.passwordEnv !== undefined, {
      path: ['passwordEnv'],
      message: 'SASL needs a password: set the environment variable named here (or its _FILE twin)',
    })
    .optional(),
});
export type KafkaConfig = z.output<typeof kafkaConfigSchema>;

const DEFAULT_MAX_BATCH = 500;
/**
 * Bytes of keys, values and headers merged into one produce request. The broker refuses a record batch
 * over the topic's `max.message.bytes` (1 MiB by default) with MESSAGE_TOO_LARGE, failing every publish in
 * it; under load, many small publishes to one key (one partition) used to merge past that.
 */
export const DEFAULT_MAX_BATCH_BYTES = 768 * 1024;
/** Largest single message the topics we create accept (topic `max.message.bytes`). */
export const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
// What the broker adds to each record of a batch (varints, attributes, deltas), counted towards the cap.
const RECORD_OVERHEAD_BYTES = 64;
// kafkajs's enums are types only under ESM: the protocol's numbers for a topic resource and a topic's own setting.
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;
const SET_ON_TOPIC = 1; // ConfigSource.TOPIC_CONFIG
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
const PING_TIMEOUT_MS = 5_000;
/** While a fetch waits for room in its partition's lane, it heartbeats this often (session timeout: 30 s). */
const HEARTBEAT_WHILE_WAITING_MS = 1_000;
// Fetch sizes: large enough that a handler asking for 1,000 events of a few KB gets them in one batch.
const FETCH_MAX_BYTES_PER_PARTITION = 8 * 1024 * 1024;
const FETCH_MAX_BYTES = 32 * 1024 * 1024;
// While the bus is known to be down, how often a background probe asks the brokers whether it is back.
const DOWN_PROBE_INTERVAL_MS = 1_000;
// Short timeouts and few retries: a dead broker must fail a publish in seconds (a 503 to the sender),
// not after kafkajs's default minutes of retrying.
const CLIENT_RETRY = { retries: 3, initialRetryTime: 250, maxRetryTime: 2_000 };
const SEND_TIMEOUT_MS = 10_000; // how long the leader may wait for all in-sync replicas

// Protocol errors that retrying cannot fix: the request itself (messages, topic settings) is refused.
const CALLER_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_CONFIG',
]);

export interface KafkaBusOptions {
  log?: Logger;
  /**
   * The largest message the bus must carry: the topics it creates (or finds smaller) get
   * `max.message.bytes` at least this large. The collector sizes it from `server.bodyLimitBytes`.
   */
  maxMessageBytes?: number;
  /** Cap on the bytes merged into one produce request (several publishes batched together). */
  maxBatchBytes?: number;
  /** How connections to the brokers are made (kafkajs's own by default); tests put a fault in between. */
  socketFactory?: ISocketFactory;
}

export class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  readonly #config: KafkaConfig;
  readonly #log: Logger;
  readonly #kafka: Kafka;
  readonly #subscriptions = new Set<KafkaSubscription>();
  readonly #groups: Array<{ group: string; topic: string }> = [];
  #producer: Promise<Producer> | undefined;
  #admin: Promise<Admin> | undefined;
  readonly #maxMessageBytes: number;
  readonly #maxBatchBytes: number;
  #closed = false;
  #sending = false;
  readonly #pending: PendingPublish[] = [];
  /** Set when a publish failed for want of a broker: publishes fail at once until a probe succeeds. */
  #down: { since: Date; reason: string; probe: NodeJS.Timeout } | undefined;

  constructor(config: KafkaConfig, options: KafkaBusOptions = {}) {
    this.#config = config;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.#log = (options.log ?? createLogger()).child({ component: 'bus', bus: 'kafka' });
    const { sasl } = config;
    this.#kafka = new Kafka({
      clientId: config.clientId,
      brokers: config.brokers,
      ssl: config.ssl,
      ...(sasl && {
        // The cast only joins kafkajs's per-mechanism union; our enum is the same three names.
        sasl: {
          mechanism: sasl.mechanism,
          username: sasl.username,
          password: sasl.passwordEnv!.reveal(),
        } as SASLOptions,
      }),
      ...(options.socketFactory && { socketFactory: options.socketFactory }),
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      retry: CLIENT_RETRY,
      logLevel: logLevel.WARN,
      logCreator: pinoLogCreator(this.#log),
    });
  }

  async ensureTopics(topics: string[]): Promise<void> {
    // With several brokers, the leaders' metadata of a topic just created can reach the broker asked
    // before it knows the topic (UNKNOWN_TOPIC_OR_PARTITION): the topics exist, so look again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#ensureTopics(topics);
      } catch (err) {
        const unknown = (err as Error).message.startsWith('unknown topic');
        if (!unknown || attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, Math.min(250 * attempt, 2_000)));
      }
    }
  }

  async #ensureTopics(topics: string[]): Promise<void> {
    try {
      const admin = await this.#connectedAdmin();
      const existing = new Set(await admin.listTopics());
      const wanted = [...new Set(topics)];
      await this.#raiseMessageLimit(
        admin,
        wanted.filter((t) => existing.has(t)),
      );
      const missing = wanted.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      // createTopics returns false (no throw) when another process created them first.
      const created = await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: this.#config.partitions,
          replicationFactor: this.#config.replicationFactor,
          configEntries: this.#topicConfig(),
        })),
      });
      if (created) this.#log.info({ topics: missing }, 'Created topics.');
    } catch (err) {
      throw toBusError(err, topics.join(', '), 'create the topics');
    }
  }

  /**
   * Topics created before (or by someone else) keep their own `max.message.bytes`; raise it where it is
   * below what this collector must carry, so a large accepted webhook is never refused by the broker.
   */
  async #raiseMessageLimit(admin: Admin, topics: string[]): Promise<void> {
    if (topics.length === 0) return;
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: TOPIC_RESOURCE, name, configNames: [] })),
    });
    for (const resource of described.resources) {
      const entries = resource.configEntries;
      const current = Number(entries.find((e) => e.configName === 'max.message.bytes')?.configValue ?? 0);
      if (current >= this.#maxMessageBytes) continue;
      // alterConfigs replaces the topic's whole dynamic config: keep every entry set on the topic itself.
      const kept = entries
        .filter((e) => e.configSource === SET_ON_TOPIC && e.configName !== 'max.message.bytes')
        .map((e) => ({ name: e.configName, value: e.configValue }));
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: TOPIC_RESOURCE,
            name: resource.resourceName,
            configEntries: [...kept, { name: 'max.message.bytes', value: String(this.#maxMessageBytes) }],
          },
        ],
      });
      this.#log.info(
        { topic: resource.resourceName, from: current, to: this.#maxMessageBytes },
        'Raised the topic max.message.bytes to the collector body limit.',
      );
    }
  }

  async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (this.#closed) throw new BusUnavailableError('Kafka bus is closed');
    // Known down: answer now, not after the client's connection timeouts and retries (up to ~10 s, which
    // is GitHub's delivery timeout), so the sender gets its 503 and Retry-After while it still listens.
    if (this.#down)
      throw new BusUnavailableError(
        `Kafka unreachable since ${this.#down.since.toISOString()} (${this.#down.reason})`,
      );
    if (messages.length === 0) return;
    let bytes = 0;
    for (const m of messages) {
      const size = messageBytes(m);
      // Permanent: no retry can make it fit, so the sender must not be told to retry (413, not 503).
      if (size > this.#maxMessageBytes)
        throw new MessageTooLargeError(
          `a message of ${size} bytes exceeds the bus limit of ${this.#maxMessageBytes} bytes`,
        );
      bytes += size;
    }
    // Batching while a send is in flight: the idempotent producer allows one request at a time, so
    // publishes that arrive meanwhile go out together in the next request (like SQLite group commit).
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ topic, messages, bytes, resolve, reject });
      if (!this.#sending) void this.#drain();
    });
  }

  /** The next publishes to send together: in arrival order, at least one, up to the byte cap. */
  #nextBatch(): PendingPublish[] {
    let bytes = this.#pending[0]!.bytes;
    let n = 1;
    while (n < this.#pending.length && bytes + this.#pending[n]!.bytes <= this.#maxBatchBytes) {
      bytes += this.#pending[n]!.bytes;
      n++;
    }
    return this.#pending.splice(0, n);
  }

  async #drain(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#pending.length > 0) await this.#sendBatch(this.#nextBatch());
    } finally {
      this.#sending = false;
    }
  }

  /**
   * Sends a batch of publishes; each resolves only once every one of its messages is on `min.insync.replicas`
   * brokers (acks=all), so a 202 given on it is never a promise the bus cannot keep.
   *
   * Two kafkajs behaviours make that need more than one `sendBatch` (both seen as an event answered 202 but
   * never on the topic when a partition leader was killed):
   * - A `sendBatch` spanning several brokers remembers which brokers answered; when a retry finds a
   *   partition's leadership moved to a broker that had already answered for other partitions, that
   *   partition's messages are never sent, and the call still succeeds. So each (topic, partition) gets a
   *   `sendBatch` of its own: one leader per call, whatever moves.
   * - When a call fails (timeouts, a lost connection), kafkajs rewinds the partition's sequence number
   *   although the broker may have written the batch. The next batch then reuses those sequence numbers, and
   *   a broker that has the failed batch answers it as a duplicate: acknowledged, not written. So after any
   *   failure the producer is replaced (a new producer id, sequences from 0). The failed batch's outcome
   *   stays unknown: its publishers are refused (503, or the spool keeps it) and a resend may put its
   *   events on the topic twice, which the consumers absorb by event id.
   */
  async #sendBatch(batch: PendingPublish[]): Promise<void> {
    const failed = new Map<string, unknown>(); // "topic\0partition" -> error
    const parts = new Map<string, { topic: string; partition: number; messages: OutgoingMessage[] }>();
    const partsOf = batch.map(() => new Set<string>());
    try {
      const producer = await this.#connectedProducer();
      for (const [i, p] of batch.entries()) {
        const count = await this.#partitionCount(p.topic);
        for (const m of p.messages) {
          const partition = partitionFor(p.topic, m.key, count);
          const id = `${p.topic}\0${partition}`;
          const part = parts.get(id) ?? { topic: p.topic, partition, messages: [] };
          parts.set(id, part);
          part.messages.push(m);
          partsOf[i]!.add(id);
        }
      }
      await Promise.all(
        [...parts].map(async ([id, { topic, partition, messages }]) => {
          try {
            await producer.sendBatch({
              acks: -1, // all in-sync replicas (at least min.insync.replicas)
              timeout: SEND_TIMEOUT_MS,
              topicMessages: [
                {
                  topic,
                  messages: messages.map((m) => ({
                    key: m.key,
                    value: m.value,
                    headers: m.headers ?? {},
                    partition,
                  })),
                },
              ],
            });
          } catch (err) {
            failed.set(id, err);
          }
        }),
      );
    } catch (err) {
      // No producer or no topic metadata: nothing was sent, so no sequence number is in doubt.
      const known = err instanceof Error && err.message.startsWith('unknown topic');
      for (const p of batch) p.reject(known ? err : toBusError(err, p.topic, 'take the messages for'));
      if (!known) this.#markDownOn(err);
      return;
    }
    let first: unknown;
    for (const [i, p] of batch.entries()) {
      const errs = [...partsOf[i]!].map((id) => failed.get(id)).filter((e) => e !== undefined);
      if (errs.length === 0) {
        p.resolve();
        continue;
      }
      // Any of its messages unconfirmed: the publisher may not assume any is stored.
      first ??= errs[0];
      p.reject(toBusError(errs[0], p.topic, 'take the messages for'));
    }
    if (failed.size > 0) {
      for (const id of failed.keys()) this.#partitionCounts.delete(id.slice(0, id.indexOf('\0')));
      this.#afterFailure(first);
    }
  }

  #afterFailure(err: unknown): void {
    this.#markDownOn(err);
    this.#resetProducer();
  }

  #markDownOn(err: unknown): void {
    const error = toBusError(err, '', 'take the messages for');
    if (error instanceof BusUnavailableError) this.#markDown(error.message);
  }

  readonly #partitionCounts = new Map<string, number>();

  /** Partitions of `topic` (cached; forgotten after a failed send, so a grown topic is seen). */
  async #partitionCount(topic: string): Promise<number> {
    const known = this.#partitionCounts.get(topic);
    if (known !== undefined) return known;
    const admin = await this.#connectedAdmin();
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = meta.topics[0]?.partitions.length ?? 0;
    if (count === 0) throw new Error(`unknown topic "${topic}": create it with ensureTopics first`);
    this.#partitionCounts.set(topic, count);
    return count;
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw new BusUnavailableError('Kafka bus is closed');
    const { topic, group } = options;
    this.#groups.push({ group, topic });
    const consumer = this.#kafka.consumer({
      groupId: group,
      allowAutoTopicCreation: false,
      // kafkajs's 1 MiB per partition made each index bulk about 145 documents whatever maxBatch asked.
      maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION,
      maxBytes: FETCH_MAX_BYTES,
    });
    const subscription = new KafkaSubscription(consumer, options, this.#log.child({ topic, group }), () =>
      this.#subscriptions.delete(subscription),
    );
    try {
      const { onAssignment } = options;
      consumer.on(consumer.events.GROUP_JOIN, () => subscription.assigned());
      if (onAssignment) consumer.on(consumer.events.GROUP_JOIN, () => onAssignment());
      await consumer.connect();
      // As in ensureTopics: with several brokers, the one asked may not know a topic just created yet.
      for (let attempt = 1; ; attempt++) {
        try {
          await consumer.subscribe({ topics: [topic], fromBeginning: options.fromBeginning ?? true });
          break;
        } catch (err) {
          const unknown = toBusError(err, topic, 'subscribe to').message.startsWith('unknown topic');
          if (!unknown || attempt >= 10) throw err;
          await new Promise((r) => setTimeout(r, Math.min(250 * attempt, 2_000)));
        }
      }
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: options.concurrentPartitions ?? 1,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => subscription.eachBatch(payload),
      });
    } catch (err) {
      await consumer.disconnect().catch(() => {});
      throw toBusError(err, topic, 'start a consumer on');
    }
    this.#subscriptions.add(subscription);
    return subscription;
  }

  consumerGroups(): ReadonlyArray<{ group: string; topic: string }> {
    return this.#groups;
  }

  async lag(group: string, topic: string): Promise<number> {
    if (this.#closed) throw new BusUnavailableError('Kafka bus is closed');
    try {
      const admin = await this.#connectedAdmin();
      const [ends, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId: group, topics: [topic] }),
      ]);
      const next = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      let lag = 0n;
      for (const p of ends) {
        const high = BigInt(p.high);
        const c = next.get(p.partition) ?? -1n; // -1: nothing committed, so everything retained is behind
        const from = c < 0n ? BigInt(p.low) : c;
        if (high > from) lag += high - from;
      }
      return Number(lag);
    } catch (err) {
      throw toBusError(err, topic, 'read the lag of');
    }
  }

  async ping(): Promise<void> {
    if (this.#closed) throw new BusUnavailableError('Kafka bus is closed');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.#connectedAdmin().then((admin) => admin.describeCluster()), timeout]);
    } catch (err) {
      throw new BusUnavailableError(`Kafka unreachable: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Fail fast from now on, and probe in the background until the brokers answer again. */
  #markDown(reason: string): void {
    if (this.#down || this.#closed) return;
    const probe = setInterval(() => {
      void this.#probeOnce();
    }, DOWN_PROBE_INTERVAL_MS);
    probe.unref();
    this.#down = { since: new Date(), reason, probe };
    this.#log.warn({ reason }, 'Kafka is down: publishes fail at once until a probe reaches it.');
  }

  /** A new producer id for what follows: see #sendBatch for why every failed send needs one. */
  #resetProducer(): void {
    const old = this.#producer;
    this.#producer = undefined;
    this.#log.warn('A Kafka send failed; starting a new producer (new producer id) for the next sends.');
    void old?.then((p) => p.disconnect()).catch(() => {});
  }

  #probing = false;
  async #probeOnce(): Promise<void> {
    if (this.#probing || !this.#down) return;
    this.#probing = true;
    try {
      await this.ping();
      const { since, probe } = this.#down;
      clearInterval(probe);
      this.#down = undefined;
      this.#log.info({ downMs: Date.now() - since.getTime() }, 'Kafka is reachable again.');
    } catch {
      // still down; the next tick asks again
    } finally {
      this.#probing = false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#down) clearInterval(this.#down.probe);
    await Promise.all([...this.#subscriptions].map((s) => s.stop()));
    const clients = [this.#producer, this.#admin].filter((c) => c !== undefined);
    await Promise.allSettled(clients.map(async (c) => (await c).disconnect()));
  }

  #topicConfig(): { name: string; value: string }[] {
    return [
      // The contract's timestamp is when the bus stored the message, not the producer's clock.
      { name: 'message.timestamp.type', value: 'LogAppendTime' },
      // A webhook up to the body limit is one message: the broker's 1 MiB default would refuse it.
      { name: 'max.message.bytes', value: String(this.#maxMessageBytes) },
      // With replicas, acks=-1 must mean at least two copies, or "all in-sync" may be the leader alone.
      ...(this.#config.replicationFactor > 1 ? [{ name: 'min.insync.replicas', value: '2' }] : []),
    ];
  }

  /** Connects once and reuses the connection; a failed connect is retried by the next caller. */
  #connectedProducer(): Promise<Producer> {
    this.#producer ??= connectOnce(
      this.#kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false, // topics get our partitions and replication, never broker defaults
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: CLIENT_RETRY,
      }),
      () => {
        this.#producer = undefined;
      },
    );
    return this.#producer;
  }

  #connectedAdmin(): Promise<Admin> {
    if (this.#closed) return Promise.reject(new BusUnavailableError('Kafka bus is closed'));
    this.#admin ??= connectOnce(this.#kafka.admin({ retry: CLIENT_RETRY }), () => {
      this.#admin = undefined;
    });
    return this.#admin;
  }
}

interface PendingPublish {
  topic: string;
  messages: OutgoingMessage[];
  bytes: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

// kafkajs's default partitioner (murmur2 of the key, as the Java client): keyed messages land where they
// always did. Every partition is offered as available; with a key, only the count matters.
const defaultPartitioner = Partitioners.DefaultPartitioner();
const allPartitions = new Map<number, PartitionMetadata[]>();
function partitionFor(topic: string, key: string, count: number): number {
  let partitionMetadata = allPartitions.get(count);
  if (!partitionMetadata) {
    partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 0,
      replicas: [],
      isr: [],
    }));
    allPartitions.set(count, partitionMetadata);
  }
  return defaultPartitioner({ topic, partitionMetadata, message: { key, value: null } });
}

function messageBytes(m: OutgoingMessage): number {
  let n = RECORD_OVERHEAD_BYTES + Buffer.byteLength(m.key) + Buffer.byteLength(m.value);
  for (const [k, v] of Object.entries(m.headers ?? {})) n += Buffer.byteLength(k) + Buffer.byteLength(v) + 8;
  return n;
}

async function connectOnce<T extends { connect(): Promise<void> }>(
  client: T,
  forget: () => void,
): Promise<T> {
  try {
    await client.connect();
    return client;
  } catch (err) {
    forget();
    throw err;
  }
}

/** Messages in the lane not yet taken by the handler. */
function queued(lane: Lane): number {
  let n = 0;
  for (let i = lane.started ? 1 : 0; i < lane.items.length; i++) n += lane.items[i]!.chunk.length;
  return n;
}

/** A chunk of a fetched batch waiting for (or in) the handler, with the offset to commit once it is handled. */
interface LaneItem {
  chunk: ConsumedMessage[];
  /** Kafka's committed offset is the next one to read: last handled + 1. */
  next: string;
  /** The assignment it was fetched under (see KafkaSubscription.#epoch). */
  epoch: number;
}

/** One partition's chunks, handled one after another in order; the head is the one in the handler. */
interface Lane {
  readonly topic: string;
  readonly partition: number;
  readonly items: LaneItem[];
  /** The head is taken: in the handler, or waiting for a turn at it (no longer merged with others). */
  started: boolean;
  /** #run is handling the items (set synchronously by #push). */
  busy: boolean;
  running: Promise<void>;
  /** The commits of handled chunks, in order (never rejects). */
  commits: Promise<void>;
}

/**
 * One consumer in its group. Fetched batches go in chunks of at most maxBatch into one lane per partition,
 * where the handler takes them in order and each is committed once handled. With `prefetch` > 0, a fetch
 * returns to kafkajs once its chunks are queued (up to `prefetch` messages per partition behind the chunk
 * in the handler), so the next fetch overlaps the handler instead of waiting for it, and chunks queued
 * meanwhile go to the handler together (up to maxBatch); an offset is still committed only after the
 * handler succeeded for it and everything before it in its partition.
 */
class KafkaSubscription implements Subscription {
  readonly #consumer: Consumer;
  readonly #options: SubscribeOptions;
  readonly #log: Logger;
  readonly #onStopped: () => void;
  readonly #lanes = new Map<number, Lane>();
  /** Handlers running now, at most concurrentPartitions; the lanes waiting for a turn. */
  #handling = 0;
  readonly #turns: Array<() => void> = [];
  /** Waiters for any lane progress (room in a lane, a lane idle); woken on each change and on stop. */
  #progress: Array<() => void> = [];
  /**
   * Bumped on each (re)assignment. kafkajs then fetches again from the committed offsets, so chunks
   * queued under an earlier assignment are dropped, and one handled meanwhile is not committed (it may be
   * another member's partition now; its messages come again to whoever owns it).
   */
  #epoch = 0;
  #stopping: Promise<void> | undefined;
  readonly #wakes = new Set<() => void>();

  constructor(consumer: Consumer, options: SubscribeOptions, log: Logger, onStopped: () => void) {
    this.#consumer = consumer;
    this.#options = options;
    this.#log = log;
    this.#onStopped = onStopped;
  }

  /** A new assignment (kafkajs GROUP_JOIN, after it has set its offsets from the committed ones). */
  assigned(): void {
    this.#epoch++;
    for (const lane of this.#lanes.values()) lane.items.splice(lane.started ? 1 : 0);
    this.#notify();
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const wake of this.#wakes) wake(); // cut a redelivery backoff short
      this.#notify();
      // The chunks in the handler finish and commit while the consumer is still in its group; the queued
      // ones are dropped uncommitted (whoever owns the partition next gets them again).
      for (const lane of this.#lanes.values()) lane.items.splice(lane.started ? 1 : 0);
      await Promise.all([...this.#lanes.values()].map((l) => l.running));
      await Promise.all([...this.#lanes.values()].map((l) => l.commits));
      // disconnect() waits for the eachBatch in flight before leaving the group.
      await this.#consumer.disconnect();
      this.#onStopped();
    })();
    return this.#stopping;
  }

  async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const { maxBatch = DEFAULT_MAX_BATCH, prefetch = 0 } = this.#options;
    const epoch = this.#epoch;
    const active = () => this.#stopping === undefined && isRunning() && !isStale() && epoch === this.#epoch;
    const lane = this.#lane(batch.topic, batch.partition);
    // Without prefetch, a chunk goes in once the lane is empty; with it, while the messages waiting
    // behind the handler stay within `prefetch` (or none wait).
    const room = (count: number) => {
      if (prefetch === 0) return lane.items.length === 0;
      const waiting = queued(lane);
      return waiting === 0 || waiting + count <= prefetch;
    };
    // Heartbeating meanwhile: a handler may retry for long.
    const waitFor = async (ready: () => boolean) => {
      while (active() && !ready()) {
        await this.#changed(HEARTBEAT_WHILE_WAITING_MS);
        if (active()) await heartbeat();
      }
    };
    for (let i = 0; i < batch.messages.length; i += maxBatch) {
      const messages = batch.messages.slice(i, i + maxBatch);
      await waitFor(() => room(messages.length));
      if (!active()) return;
      const chunk = messages.map((m) => toConsumed(batch.topic, batch.partition, m));
      const last = chunk.at(-1)!.offset;
      this.#push(lane, { chunk, next: (BigInt(last) + 1n).toString(), epoch });
      // Where kafkajs fetches this partition from next; nothing is committed before the lane handles it.
      for (const m of messages) resolveOffset(m.offset);
    }
    if (prefetch === 0) await waitFor(() => lane.items.length === 0);
  }

  #lane(topic: string, partition: number): Lane {
    let lane = this.#lanes.get(partition);
    if (!lane) {
      lane = {
        topic,
        partition,
        items: [],
        started: false,
        busy: false,
        running: Promise.resolve(),
        commits: Promise.resolve(),
      };
      this.#lanes.set(partition, lane);
    }
    return lane;
  }

  #push(lane: Lane, item: LaneItem): void {
    lane.items.push(item);
    if (lane.busy) return;
    lane.busy = true; // set here, not in #run: a push right after #run's last check must start a new one
    lane.running = this.#run(lane);
  }

  /** Handles the lane's chunks in order until it is empty; drops those of a stop or an earlier assignment. */
  async #run(lane: Lane): Promise<void> {
    const { maxBatch = DEFAULT_MAX_BATCH } = this.#options;
    try {
      for (let item = lane.items[0]; item; item = lane.items[0]) {
        if (!this.#stale(item)) {
          // Chunks that queued up behind the last one (small fetches at a low rate) go to the handler
          // together, up to maxBatch: one bulk rather than one per fetch.
          for (let after = lane.items[1]; after; after = lane.items[1]) {
            if (after.epoch !== item.epoch || item.chunk.length + after.chunk.length > maxBatch) break;
            item = { chunk: item.chunk.concat(after.chunk), next: after.next, epoch: item.epoch };
            lane.items.splice(0, 2, item);
          }
          lane.started = true;
          await this.#turn();
          let handled = false;
          try {
            if (!this.#stale(item)) handled = await this.#handle(lane, item);
          } finally {
            this.#endTurn();
          }
          // After a rebalance it may be another member's partition now: left uncommitted, it comes again.
          // The commit goes in the background, after the lane's earlier ones: the next chunk need not wait.
          const done = item;
          if (handled && done.epoch === this.#epoch)
            lane.commits = lane.commits.then(() => this.#commit(lane, done));
        }
        lane.items.shift();
        lane.started = false;
        this.#notify();
      }
    } finally {
      lane.started = false;
      lane.busy = false;
      this.#notify();
    }
  }

  #stale(item: LaneItem): boolean {
    return this.#stopping !== undefined || item.epoch !== this.#epoch;
  }

  /** The handler on one chunk, retried with backoff until it succeeds; false if given up (stop, rebalance). */
  async #handle(lane: Lane, { chunk, epoch }: LaneItem): Promise<boolean> {
    let backoff = BACKOFF_MIN_MS;
    for (;;) {
      try {
        await this.#options.handler(chunk);
        return true;
      } catch (err) {
        this.#log.warn(
          {
            err,
            partition: lane.partition,
            offset: chunk[0]!.offset,
            count: chunk.length,
            backoffMs: backoff,
          },
          'Handler failed; redelivering.',
        );
        await this.#sleep(backoff);
        // Uncommitted, so whoever owns the partition next gets these messages again.
        if (this.#stopping || epoch !== this.#epoch) return false;
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  async #commit(lane: Lane, item: LaneItem): Promise<void> {
    if (item.epoch !== this.#epoch) return; // reassigned while it waited: see #epoch
    try {
      await this.#consumer.commitOffsets([
        { topic: lane.topic, partition: lane.partition, offset: item.next },
      ]);
    } catch (err) {
      // Not committed: these messages may come again (the next chunk's commit covers them).
      this.#log.warn(
        { err, partition: lane.partition, offset: item.next },
        'Could not commit offsets; the messages may be redelivered.',
      );
    }
  }

  /** A handler slot (concurrentPartitions at a time). */
  async #turn(): Promise<void> {
    if (this.#handling < (this.#options.concurrentPartitions ?? 1)) {
      this.#handling++;
      return;
    }
    await new Promise<void>((resolve) => this.#turns.push(resolve));
  }

  #endTurn(): void {
    const next = this.#turns.shift();
    // The slot passes on to a waiting lane, or frees up.
    if (next) next();
    else this.#handling--;
  }

  #notify(): void {
    const waiting = this.#progress;
    this.#progress = [];
    for (const wake of waiting) wake();
  }

  /** Resolves at the next lane change, or after `ms` at most. */
  #changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#progress.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      this.#wakes.add(done);
      const wakes = this.#wakes;
      function done() {
        clearTimeout(timer);
        wakes.delete(done);
        resolve();
      }
    });
  }
}

/**
 * A fetched message as consumers see it. Its value's text is decoded when first asked for and kept: the
 * index role reads the bytes only (readEvent decodes what is around the raw payload; the store sends the
 * bytes), so a 7 KB text per message need not be made, nor held in the heap while the message waits in
 * its lane. An own enumerable getter, so a spread or JSON.stringify of the message still has its value.
 */
export function toConsumed(topic: string, partition: number, m: KafkaMessage): ConsumedMessage {
  const bytes = m.value ?? undefined;
  let text: string | undefined;
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key?.toString('utf8') ?? '',
    get value(): string {
      text ??= bytes ? bytes.toString('utf8') : '';
      return text;
    },
    ...(bytes ? { bytes } : {}),
    headers: headersToStrings(m.headers),
    timestamp: Number(m.timestamp),
  };
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    // A repeated header (never written by us) is joined, so nothing is silently dropped.
    out[name] = Array.isArray(value)
      ? value.map((v) => v.toString('utf8')).join(', ')
      : value.toString('utf8');
  }
  return out;
}

/** Maps a kafkajs failure: the caller's mistake stays a plain Error, anything else means "retry later". */
function toBusError(err: unknown, topic: string, action: string): Error {
  if (err instanceof BusUnavailableError) return err;
  const types = new Set<string>();
  const pending: unknown[] = [err];
  for (let e = pending.pop(); e instanceof Error; e = pending.pop()) {
    const { type, errors } = e as { type?: unknown; errors?: unknown };
    if (typeof type === 'string') types.add(type);
    if (e.cause !== undefined) pending.push(e.cause);
    if (Array.isArray(errors)) pending.push(...errors); // createTopics reports one error per topic
  }
  const message = err instanceof Error ? err.message : String(err);
  if (types.has('UNKNOWN_TOPIC_OR_PARTITION')) {
    return new Error(`unknown topic "${topic}": create it with ensureTopics first`, { cause: err });
  }
  if (types.has('MESSAGE_TOO_LARGE') || types.has('RECORD_LIST_TOO_LARGE'))
    return new MessageTooLargeError(`Kafka refused a message to "${topic}" as too large: ${message}`, {
      cause: err,
    });
  const refused = [...types].find((t) => CALLER_ERRORS.has(t));
  if (refused)
    return new Error(`Kafka refused to ${action} "${topic}" (${refused}): ${message}`, { cause: err });
  return new BusUnavailableError(`Kafka could not ${action} "${topic}": ${message}`, { cause: err });
}

/** Sends kafkajs's own warnings and errors to our pino logger. */
function pinoLogCreator(log: Logger): logCreator {
  return () =>
    ({ namespace, level, log: entry }) => {
      const { message, timestamp: _, ...fields } = entry;
      // Expected: we bound retries on purpose and rely on consumer-side dedup, not exactly-once.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      const target = level === logLevel.ERROR ? log.error.bind(log) : log.warn.bind(log);
      target({ kafkajs: namespace, ...fields }, message);
    };
}
