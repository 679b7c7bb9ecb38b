// The trail's records: the link stored on every chained event, and the signed checkpoint over a segment.

/** Where an event sits in its partition's hash chain; stored on the event as `pipewarden.trail`. */
export interface TrailLink {
  /**
   * Which bytes the hash covers (src/trail/chain.ts): 3, the event's text as the store keeps it; 2, its
   * JSON.stringify text; absent (version 1), its RFC 8785 bytes.
   */
  v?: 2 | 3;
  partition: number;
  /** The bus offset the event was read from (informational; the order is `seq`'s). */
  offset: number;
  /** 1-based position in the partition's chain: a gap is a deleted event. */
  seq: number;
  /** The previous link's hash (GENESIS for seq 1). */
  prev: string;
  /** sha256(prev ‖ seq ‖ the bytes of the event without its link, by version), hex. */
  hash: string;
}

/** A signed statement: partition p's chain reached `head` at `toSeq`. One per segment, numbered from 1. */
export interface Checkpoint {
  v: 1;
  partition: number;
  n: number;
  fromSeq: number;
  toSeq: number;
  count: number;
  fromOffset: number;
  toOffset: number;
  /** event.ingested of the segment's first and last events: what --from/--to select on. */
  fromTime: string;
  toTime: string;
  head: string;
  /** Hash of the previous checkpoint's signed body (GENESIS for n = 1): checkpoints form a chain too. */
  prev: string;
  time: string;
  /** First 16 hex digits of sha256 over the public key (SPKI DER). */
  keyId: string;
  /** Ed25519 over the RFC 8785 bytes of every other field, base64. */
  signature: string;
}

export const GENESIS = '0'.repeat(64);
