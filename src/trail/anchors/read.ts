// Reads checkpoints back from an anchor's copies: a file of JSON lines (the file anchor, a webhook
// receiver's log, a saved email body) or a directory of them. Lines that are not checkpoints are skipped.
import { createReadStream, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isCheckpoint } from '../checkpoint.ts';
import type { Checkpoint } from '../types.ts';

export async function readAnchor(path: string): Promise<Checkpoint[]> {
  const files = statSync(path).isDirectory()
    ? (await readdir(path, { withFileTypes: true }))
        .filter((d) => d.isFile())
        .map((d) => join(path, d.name))
        .sort()
    : [path];
  const out = new Map<string, Checkpoint>();
  for (const file of files) {
    const lines = createInterface({
      input: createReadStream(file, 'utf8'),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    for await (const line of lines) {
      const t = line.trim();
      if (!t.startsWith('{')) continue;
      try {
        const v: unknown = JSON.parse(t);
        // The same checkpoint from two copies counts once; two different ones with one number both stay.
        if (isCheckpoint(v)) out.set(`${v.partition}-${v.n}-${v.signature}`, v);
      } catch {
        // not a checkpoint line
      }
    }
  }
  return [...out.values()];
}
