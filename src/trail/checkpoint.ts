// Signed checkpoints: partition, sequence and offset range, count, head hash, time, and the hash of the
// previous checkpoint, signed with Ed25519 over their RFC 8785 bytes.
import { createHash, type KeyObject, sign, verify } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Checkpoint } from './types.ts';

export type Unsigned = Omit<Checkpoint, 'signature'>;

function body(c: Unsigned | Checkpoint): Buffer {
  const { signature: _, ...rest } = c as Checkpoint;
  return Buffer.from(canonicalize(rest) ?? '');
}

export function signCheckpoint(c: Unsigned, key: KeyObject): Checkpoint {
  return { ...c, signature: sign(null, body(c), key).toString('base64') };
}

/** Whether `c` carries a valid signature by `key` (a forged or altered checkpoint does not). */
export function checkpointSigned(c: Checkpoint, key: KeyObject): boolean {
  try {
    return typeof c.signature === 'string' && verify(null, body(c), key, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}

/** What the next checkpoint's `prev` holds: the hash of this one's signed bytes, signature included. */
export function checkpointHash(c: Checkpoint): string {
  return createHash('sha256')
    .update(canonicalize(c) ?? '')
    .digest('hex');
}

export function checkpointId(c: { partition: number; n: number }): string {
  return `${c.partition}-${c.n}`;
}

/** A JSON value that has the shape of a checkpoint (anchors and stores are read, not trusted). */
export function isCheckpoint(v: unknown): v is Checkpoint {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    c.v === 1 &&
    ['partition', 'n', 'fromSeq', 'toSeq', 'count', 'fromOffset', 'toOffset'].every(
      (k) => typeof c[k] === 'number',
    ) &&
    ['head', 'prev', 'time', 'keyId', 'signature', 'fromTime', 'toTime'].every(
      (k) => typeof c[k] === 'string',
    )
  );
}
