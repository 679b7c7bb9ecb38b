// A native CRC32C for kafkajs. Every record batch it produces carries a CRC32C of the batch, which kafkajs
// computes in JavaScript: about 16 µs for one 6.5 KB event on this machine (its profile: 28 % of the
// distributed ingest role's thread together with the record encoding). @node-rs/crc32's native one takes
// about 1.3 µs. kafkajs offers no option for it, so its module is put in the CommonJS cache before kafkajs
// loads it: this file must be imported before anything imports kafkajs (src/bus/kafka.ts imports it first).
import { createRequire, Module } from 'node:module';
import { crc32c } from '@node-rs/crc32';

const require = createRequire(import.meta.url);
const MODULE_ID = 'kafkajs/src/protocol/recordBatch/crc32C/index.js';

/** What kafkajs's crc32C module exports: the unsigned CRC32C of the buffer (initial value 0, as Kafka's). */
export function nativeCrc32c(buffer: Buffer): number {
  return crc32c(buffer) >>> 0;
}

/**
 * Which CRC32C kafkajs uses: 'native' once installed; 'javascript' when kafkajs's own module was loaded
 * before this file (a module that imported kafkajs first) or the native binding is missing.
 */
export const kafkajsCrc32c: 'native' | 'javascript' = install();

function install(): 'native' | 'javascript' {
  const filename = require.resolve(MODULE_ID);
  const cached = require.cache[filename];
  if (cached) return cached.exports === nativeCrc32c ? 'native' : 'javascript';
  const mod = new Module(filename);
  mod.filename = filename;
  mod.loaded = true;
  mod.exports = nativeCrc32c;
  require.cache[filename] = mod;
  return 'native';
}
