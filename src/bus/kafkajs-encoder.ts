// Fewer copies of a produce request in kafkajs. Its Encoder nests: each record, the record batch, the
// partition, the topic, the request and its size frame are encoders of their own, and each level copies
// everything below it into a new buffer grown to the next power of two. A request of 11 GitHub events
// (80 KB) allocated about 1.4 MB of buffers; those are external memory to V8, which answers their growth
// with full mark-compact collections (measured on the distributed ingest role: one every ~300 ms, about
// 120 µs of GC-thread CPU per request). Here an encoder keeps a large buffer written into it (an inner
// encoder's output, a message value) by reference, as one chunk among its bytes, and joins the chunks only
// when its bytes are asked for: a produce request is copied once for its CRC and once to be sent.
//
// The Encoder's contract is unchanged: `buffer` is the bytes written, in order; `size()` their count;
// every write appends. Chunks are views of bytes already written, which no encoder writes again (writes
// only append past `offset`). kafkajs offers no option for this, so the class's prototype is patched, as
// crc32c.ts replaces its CRC; test/unit/kafkajs-encoder.test.ts holds it to kafkajs's own encoder byte for byte.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const MODULE_ID = 'kafkajs/src/protocol/encoder.js';

/** Buffers at least this large are kept by reference; smaller ones are copied as kafkajs does. */
export const CHUNK_MIN_BYTES = 4_096;

interface EncoderLike {
  buf: Buffer;
  offset: number;
  /** Bytes before `buf` (in order), when any was kept by reference. */
  chunks?: Buffer[];
  chunkBytes?: number;
  size(): number;
  readonly buffer: Buffer;
  writeBufferInternal(buffer: Buffer): void;
  writeEncoder(value: EncoderLike): EncoderLike;
  writeEncoderArray(values: EncoderLike[]): EncoderLike;
  writeBytes(value: unknown): EncoderLike;
  writeInt32(value: number): EncoderLike;
}

type EncoderClass = { prototype: EncoderLike };

/** Moves the bytes written into `buf` so far to the chunks; later writes continue in the rest of `buf`. */
function sealTail(e: EncoderLike): void {
  e.chunks ??= [];
  e.chunkBytes ??= 0;
  if (e.offset > 0) {
    e.chunks.push(e.buf.subarray(0, e.offset));
    e.chunkBytes += e.offset;
    e.buf = e.buf.subarray(e.offset);
    e.offset = 0;
  }
}

function isEncoder(v: unknown): v is EncoderLike {
  return v != null && Buffer.isBuffer((v as EncoderLike).buf);
}

/** Patches kafkajs's Encoder (once); returns whether it is patched. */
export function patchEncoder(Encoder: EncoderClass): boolean {
  const proto = Encoder.prototype as EncoderLike & { __chunked?: true };
  if (proto.__chunked) return true;
  const copy = proto.writeBufferInternal;

  proto.writeBufferInternal = function (this: EncoderLike, buffer: Buffer) {
    if (buffer.length < CHUNK_MIN_BYTES) return copy.call(this, buffer);
    sealTail(this);
    this.chunks!.push(buffer);
    this.chunkBytes! += buffer.length;
  };

  proto.writeEncoder = function (this: EncoderLike, value: EncoderLike) {
    if (!isEncoder(value)) throw new Error('value should be an instance of Encoder');
    if (!value.chunks?.length) {
      this.writeBufferInternal(value.buf.subarray(0, value.offset));
      return this;
    }
    // Its chunks and the bytes after them, by reference: nothing joined or copied.
    sealTail(this);
    for (const c of value.chunks) this.chunks!.push(c);
    if (value.offset > 0) this.chunks!.push(value.buf.subarray(0, value.offset));
    this.chunkBytes! += value.size();
    return this;
  };

  proto.writeEncoderArray = function (this: EncoderLike, values: EncoderLike[]) {
    if (!Array.isArray(values) || values.some((v) => !isEncoder(v)))
      throw new Error('all values should be an instance of Encoder[]');
    for (const v of values) this.writeEncoder(v);
    return this;
  };

  // kafkajs grows its buffer for a Buffer value before writing it: not needed when it is kept by reference.
  const writeBytes = proto.writeBytes;
  proto.writeBytes = function (this: EncoderLike, value: unknown) {
    if (!Buffer.isBuffer(value) || value.length < CHUNK_MIN_BYTES) return writeBytes.call(this, value);
    this.writeInt32(value.length);
    this.writeBufferInternal(value);
    return this;
  };

  proto.size = function (this: EncoderLike) {
    return (this.chunkBytes ?? 0) + this.offset;
  };

  Object.defineProperty(proto, 'buffer', {
    configurable: true,
    get(this: EncoderLike): Buffer {
      if (!this.chunks?.length) return this.buf.subarray(0, this.offset);
      // Joined once, then kept as the encoder's own buffer (kafkajs asks twice before sending).
      const total = this.chunkBytes! + this.offset;
      const all = Buffer.concat([...this.chunks, this.buf.subarray(0, this.offset)], total);
      this.chunks = undefined;
      this.chunkBytes = 0;
      this.buf = all;
      this.offset = total;
      return all;
    },
  });
  Object.defineProperty(proto, '__chunked', { value: true });
  return true;
}

/** Patched at import: before any request is encoded (src/bus/kafka.ts imports this first). */
export const kafkajsEncoderChunked: boolean = patchEncoder(require(MODULE_ID) as EncoderClass);
