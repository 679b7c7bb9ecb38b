// The chunked kafkajs Encoder (src/bus/kafkajs-encoder.ts) must write exactly the bytes kafkajs's own does:
// random sequences of writes, nested encoders and reads of `buffer` and `size()` against a pristine copy.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHUNK_MIN_BYTES, kafkajsEncoderChunked } from '../../src/bus/kafkajs-encoder.ts';

const require = createRequire(import.meta.url);
const encoderPath = require.resolve('kafkajs/src/protocol/encoder.js');

// biome-ignore lint/suspicious/noExplicitAny: kafkajs's Encoder has no types
type AnyEncoder = any;
const Patched = require(encoderPath);
/** kafkajs's Encoder as shipped: the module evaluated again, outside the require cache. */
function pristine(): AnyEncoder {
  const cached = require.cache[encoderPath];
  delete require.cache[encoderPath];
  try {
    return require(encoderPath);
  } finally {
    require.cache[encoderPath] = cached;
  }
}
const Original = pristine();

type Op =
  | { op: 'int8' | 'int32' | 'varint'; n: number }
  | { op: 'string' | 'varIntBytes' | 'bytes'; s: string }
  | { op: 'bytesBuffer' | 'buffer'; len: number; fill: number }
  | { op: 'child' | 'childArray'; ops: Op[]; read: boolean }
  | { op: 'read' };

const op: fc.Arbitrary<Op> = fc.letrec<{ op: Op }>((tie) => ({
  op: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ op: fc.constantFrom('int8' as const), n: fc.integer({ min: -128, max: 127 }) }),
    fc.record({
      op: fc.constantFrom('int32' as const, 'varint' as const),
      n: fc.integer({ min: -1e9, max: 1e9 }),
    }),
    fc.record({
      op: fc.constantFrom('string' as const, 'varIntBytes' as const, 'bytes' as const),
      s: fc.string(),
    }),
    fc.record({
      op: fc.constantFrom('bytesBuffer' as const, 'buffer' as const),
      // Around the threshold, and well above it (kept by reference).
      len: fc.oneof(
        fc.integer({ min: 0, max: 64 }),
        fc.integer({ min: CHUNK_MIN_BYTES - 2, max: CHUNK_MIN_BYTES * 3 }),
      ),
      fill: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({
      op: fc.constantFrom('child' as const, 'childArray' as const),
      ops: fc.array(tie('op'), { maxLength: 5 }),
      read: fc.boolean(),
    }),
    fc.constant({ op: 'read' as const }),
  ),
})).op;

function run(E: AnyEncoder, ops: Op[]): AnyEncoder {
  const e = new E();
  for (const o of ops) {
    switch (o.op) {
      case 'int8':
        e.writeInt8(o.n);
        break;
      case 'int32':
        e.writeInt32(o.n);
        break;
      case 'varint':
        e.writeVarInt(o.n);
        break;
      case 'string':
        e.writeString(o.s);
        break;
      case 'varIntBytes':
        e.writeVarIntBytes(o.s);
        break;
      case 'bytes':
        e.writeBytes(o.s);
        break;
      case 'bytesBuffer':
        e.writeBytes(Buffer.alloc(o.len, o.fill));
        break;
      case 'buffer':
        e.writeBuffer(Buffer.alloc(o.len, o.fill));
        break;
      case 'child': {
        const child = run(E, o.ops);
        if (o.read) void child.buffer; // kafkajs reads some (a CRC) before nesting them
        e.writeEncoder(child);
        break;
      }
      case 'childArray':
        e.writeEncoderArray([run(E, o.ops), run(E, o.ops.slice(1))]);
        break;
      case 'read':
        void e.buffer;
        break;
    }
  }
  return e;
}

describe('kafkajs Encoder, chunked', () => {
  it('is installed on the encoder kafkajs uses', () => {
    expect(kafkajsEncoderChunked).toBe(true);
    expect(Patched).not.toBe(Original);
  });

  it('writes the same bytes and sizes as kafkajs’s own encoder, for any sequence of writes', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
        const a = run(Patched, ops);
        const b = run(Original, ops);
        expect(a.size()).toBe(b.size());
        expect(Buffer.compare(a.buffer, b.buffer)).toBe(0);
        // Appending after a read still gives the same bytes.
        a.writeInt32(7).writeBytes(Buffer.alloc(CHUNK_MIN_BYTES, 1));
        b.writeInt32(7).writeBytes(Buffer.alloc(CHUNK_MIN_BYTES, 1));
        expect(Buffer.compare(a.buffer, b.buffer)).toBe(0);
        expect(a.size()).toBe(b.size());
      }),
      { numRuns: 1_000 },
    );
  });

  it('encodes a produce request of large records byte for byte as kafkajs did', async () => {
    // The same request module evaluated against each encoder (its requires resolved through the cache).
    const load = (E: AnyEncoder) => {
      const saved = new Map(Object.entries(require.cache));
      for (const k of Object.keys(require.cache))
        if (k.includes('/kafkajs/src/protocol/')) delete require.cache[k];
      require.cache[encoderPath] = { ...saved.get(encoderPath)!, exports: E } as NodeJS.Module;
      try {
        return require('kafkajs/src/protocol/requests/produce/v3/request.js');
      } finally {
        for (const k of Object.keys(require.cache)) delete require.cache[k];
        for (const [k, v] of saved) require.cache[k] = v;
      }
    };
    const Long = require('kafkajs/src/utils/long');
    const messages = Array.from({ length: 11 }, (_, i) => ({
      key: 'octocat',
      value: JSON.stringify({ i, pad: 'é'.repeat(3_600) }),
      headers: { source: 'github' },
      timestamp: 1_733_300_000_000 + i,
    }));
    const encode = async (E: AnyEncoder) => {
      const request = load(E)({
        acks: -1,
        timeout: 10_000,
        producerId: Long.fromInt(42),
        producerEpoch: 0,
        topicData: [{ topic: 'events', partitions: [{ partition: 2, firstSequence: 7, messages }] }],
      });
      return (await request.encode()).buffer as Buffer;
    };
    const mine = await encode(Patched);
    const theirs = await encode(Original);
    expect(mine.length).toBeGreaterThan(11 * 7_000);
    expect(Buffer.compare(mine, theirs)).toBe(0);
  });
});
