// Bytes as a Buffer without copying them (a view of the same memory), for Buffer's methods on any
// Uint8Array: a Kafka message's value, a body as received.

/** `bytes` itself when it is a Buffer, else a Buffer over the same memory. */
export function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
