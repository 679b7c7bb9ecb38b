// The native CRC32C installed for kafkajs (src/bus/crc32c.ts) must give exactly what kafkajs's own
// JavaScript one gives (the broker refuses a record batch whose CRC is wrong), and importing the Kafka bus
// must leave kafkajs using it.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kafkajsCrc32c, nativeCrc32c } from '../../src/bus/crc32c.ts';
import '../../src/bus/kafka.ts';

const require = createRequire(import.meta.url);
// kafkajs's JavaScript implementation (signed 32-bit; its index.js makes it unsigned).
const jsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;

describe('native CRC32C for kafkajs', () => {
  it('equals kafkajs’s JavaScript CRC32C on any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), (bytes) => {
        const b = Buffer.from(bytes);
        expect(nativeCrc32c(b)).toBe(jsCrc32c(b) >>> 0);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the published check value of CRC-32C', () => {
    // RFC 3720 (iSCSI) B.4 and every CRC catalogue: CRC-32C("123456789") = 0xE3069283.
    expect(nativeCrc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('is the one kafkajs’s record batches use once the bus is imported', () => {
    expect(kafkajsCrc32c).toBe('native');
    expect(require('kafkajs/src/protocol/recordBatch/crc32C/index.js')).toBe(nativeCrc32c);
  });
});
