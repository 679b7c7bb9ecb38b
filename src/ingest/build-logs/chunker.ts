// Cuts a byte stream into ordered BuildLogChunks at line ends, holding at most about two chunks in memory,
// and hands each to `publish` before reading on: a slow bus slows the reader (backpressure).
import { bufferOf } from '../../util/bytes.ts';
import { type BuildLogChunk, DEFAULT_CHUNK_BYTES } from './types.ts';

export interface ChunkOptions {
  job: string;
  source: string;
  /** Target size; a chunk ends at the last "\n" before it. Default 64 KiB. */
  chunkBytes?: number;
  /** Awaited for every chunk, in order. A rejection stops the stream and is rethrown. */
  publish: (chunk: BuildLogChunk) => Promise<void>;
}

export interface ChunkResult {
  chunks: number;
  bytes: number;
}

const NL = 0x0a;

/** Largest index <= i that does not start inside a UTF-8 sequence (so a hard cut never splits a character). */
function charBoundary(buf: Buffer, i: number): number {
  let j = i;
  while (j > 0 && (buf[j]! & 0xc0) === 0x80) j--;
  return j === 0 ? i : j;
}

export async function chunkStream(
  input: AsyncIterable<Uint8Array | string>,
  opts: ChunkOptions,
): Promise<ChunkResult> {
  const size = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  // A line longer than this is split: keeps every message well under the bus's size limit.
  const hard = size * 2;
  let buf = Buffer.alloc(0);
  let seq = 0;
  let offset = 0;
  let line = 1;
  let held: BuildLogChunk | undefined; // one chunk of lookahead, so the last one can be marked final

  const emit = async (piece: Buffer) => {
    const text = piece.toString('utf8');
    const chunk: BuildLogChunk = { job: opts.job, seq, offset, lines: line, text, source: opts.source };
    seq++;
    offset += piece.length;
    for (let i = piece.indexOf(NL); i !== -1; i = piece.indexOf(NL, i + 1)) line++;
    if (held) await opts.publish(held);
    held = chunk;
  };

  const drain = async (end: boolean) => {
    while (buf.length >= size || (end && buf.length > 0)) {
      let cut = buf.lastIndexOf(NL, size - 1) + 1;
      if (cut === 0) {
        const next = buf.indexOf(NL, size);
        if (next !== -1 && next < hard) cut = next + 1;
        else if (buf.length >= hard) cut = charBoundary(buf, hard);
        else if (end) cut = buf.length;
        else return; // a long line still arriving: wait for its end or the hard limit
      }
      await emit(buf.subarray(0, cut));
      buf = buf.subarray(cut);
    }
  };

  for await (const part of input) {
    const bytes = typeof part === 'string' ? Buffer.from(part) : bufferOf(part);
    buf = buf.length ? Buffer.concat([buf, bytes]) : Buffer.from(bytes);
    await drain(false);
  }
  await drain(true);
  const last: BuildLogChunk = held ?? {
    job: opts.job,
    seq: seq++,
    offset,
    lines: line,
    text: '',
    source: opts.source,
  };
  await opts.publish({ ...last, final: true });
  return { chunks: held ? seq : 1, bytes: offset };
}
