// The bus: an ordered, durable, keyed log of messages with consumer groups. Kafka in production, SQLite embedded.

export interface OutgoingMessage {
  key: string;
  value: string; // JSON text
  headers?: Record<string, string>;
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string; // decimal string: Kafka offsets exceed 2^53 in theory
  key: string;
  value: string;
  /**
   * The value's UTF-8 bytes as received, where the bus has them (Kafka: a view into the fetch response),
   * for a consumer that forwards the message unchanged (the index role) without encoding it again.
   */
  bytes?: Uint8Array;
  headers: Record<string, string>;
  timestamp: number; // ms since epoch, when the bus stored it
}

/**
 * Called with a batch of messages in order. The batch's offsets are committed only after the returned
 * promise resolves; if it rejects, the same messages are delivered again after a backoff. Handlers must
 * therefore be idempotent (content-derived ids make redelivery harmless).
 */
export type BatchHandler = (batch: ConsumedMessage[]) => Promise<void>;

export interface SubscribeOptions {
  topic: string;
  group: string;
  handler: BatchHandler;
  /** Upper bound of messages per batch handed to the handler. */
  maxBatch?: number;
  /** Start from the oldest retained message when the group has no committed offset (default true). */
  fromBeginning?: boolean;
  /**
   * Called each time the group (re)assigns partitions to this subscriber (Kafka: every rebalance), before
   * messages of the new assignment are handled. What the subscriber keeps in memory per key may have been
   * changed meanwhile by the member that owned those partitions. The SQLite bus never rebalances.
   */
  onAssignment?: () => void;
  /**
   * How many partitions' batches the handler may be given at the same time (Kafka; default 1). Only for
   * handlers whose per-message work is independent across partitions (the index role); the SQLite bus has
   * one partition and ignores it.
   */
  concurrentPartitions?: number;
  /**
   * When a fetch returns fewer than `maxBatch` messages, wait this long (ms) for more before handing them
   * over (SQLite bus; default 0). For handlers whose cost is per batch more than per message (the index
   * role: one store transaction and fsync per batch), not for those whose latency matters (detect, alert).
   */
  lingerMs?: number;
  /**
   * Kafka: how many messages per partition may wait, fetched, behind the chunk in the handler (default 0:
   * the next fetch waits for the handler). Above 0 the next fetch overlaps the handler, and what queued up
   * meanwhile goes to the handler together (up to maxBatch); offsets are still committed only after the
   * handler succeeded. The SQLite bus ignores it.
   */
  prefetch?: number;
}

export interface Subscription {
  /** Stop fetching, wait for the batch in flight to finish and commit, then return. */
  stop(): Promise<void>;
}

export interface Bus {
  readonly kind: 'kafka' | 'sqlite';
  /** Create the topics that are missing. Idempotent. */
  ensureTopics(topics: string[]): Promise<void>;
  /**
   * Resolves only once every message is durable (Kafka: acknowledged by all in-sync replicas;
   * SQLite: committed to disk). Rejects with BusUnavailableError when it cannot take them, in which case
   * none of them should be assumed stored (the sender is told to retry; redelivery is deduplicated).
   */
  publish(topic: string, messages: OutgoingMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /**
   * How many retained messages of `topic` the consumer group has not committed yet (summed over
   * partitions; all retained ones when the group has committed nothing). For /metrics.
   */
  lag(group: string, topic: string): Promise<number>;
  /**
   * The consumer groups this bus instance has subscribed, with their topics, in order (each subscribe
   * adds one; a stopped one stays listed). For the lag gauge on /metrics; a bus without it shows none.
   */
  consumerGroups?(): ReadonlyArray<{ group: string; topic: string }>;
  /** Throws when the bus cannot be reached. Used by /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class BusUnavailableError extends Error {
  override name = 'BusUnavailableError';
}

/** The bus can never take this message as it is (too large): retrying will not help. */
export class MessageTooLargeError extends Error {
  override name = 'MessageTooLargeError';
}
