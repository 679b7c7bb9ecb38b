// Issue 10 item 7, in bytes: signed bodies not yet checked are capped per client by the bytes they declare,
// not only by their count. With the defaults (64 MiB per client, 32 requests), three 20 MB bodies from one
// client are held and the fourth is refused at once; counted only, the first 32 were all held (640 MB).
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.ts';
import { PendingCounter } from '../../src/ingest/guard.ts';
import { startEmbedded } from '../support/app.ts';

let app: RunningApp;
beforeAll(async () => {
  ({ app } = await startEmbedded({}, {}, ['ingest']));
});
afterAll(async () => {
  await app?.stop();
});

/** A signed-looking GitHub delivery declaring `bytes` of body, of which a few are sent; then nothing. */
function held(bytes: number): { socket: Socket; answer: () => string } {
  const { port, hostname } = new URL(app.url);
  const socket = connect(Number(port), hostname);
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (d) => {
    data += d;
  });
  socket.on('error', () => {});
  socket.write(
    [
      'POST /ingest/github HTTP/1.1',
      `Host: ${hostname}`,
      'Content-Type: application/json',
      'X-GitHub-Event: push',
      'X-GitHub-Delivery: 0b0b0b0b-0000-0000-0000-000000000000',
      `X-Hub-Signature-256: sha256=${'0'.repeat(64)}`,
      `Content-Length: ${bytes}`,
      '',
      '{"ref":',
    ].join('\r\n'),
  );
  return { socket, answer: () => data };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('unchecked signed bodies, in bytes', () => {
  it('refuses a client past its declared bytes, and takes it again once they are released', async () => {
    const MB20 = 20 * 1024 * 1024;
    const first = [held(MB20), held(MB20), held(MB20)];
    await sleep(300);
    const fourth = held(MB20);
    const small = held(1024); // 60 MB + 1 KB still fits under 64 MiB
    try {
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && !fourth.answer()) await sleep(50);
      expect(fourth.answer()).toMatch(/^HTTP\/1\.1 429/);
      expect(fourth.answer()).toContain('bytes per client');
      await sleep(200);
      for (const c of [...first, small]) expect(c.answer()).toBe(''); // still being read
      first[0]!.socket.destroy(); // its 20 MB are released when the exchange ends
      await sleep(300);
      const again = held(MB20);
      await sleep(500);
      expect(again.answer()).toBe('');
      again.socket.destroy();
    } finally {
      for (const c of [...first, fourth, small]) c.socket.destroy();
    }
  }, 20_000);
});

describe('PendingCounter in bytes', () => {
  it('caps the bytes per client and in total, but always takes a request that would be alone', () => {
    const c = new PendingCounter(10, 10, 100, 150);
    const big = c.acquire('a', 500); // alone: taken although over both caps
    expect(big).toBeTypeOf('function');
    expect(c.acquire('a', 1)).toBeUndefined(); // a's bytes are over its cap
    expect(c.acquire('b', 10)).toBeUndefined(); // everyone's bytes are over the total cap
    big!();
    expect(c.heldBytes).toBe(0);
    expect(c.acquire('a', 60)).toBeTypeOf('function');
    expect(c.acquire('a', 40)).toBeTypeOf('function');
    expect(c.acquire('a', 1)).toBeUndefined();
    expect(c.acquire('b', 50)).toBeTypeOf('function');
    expect(c.acquire('c', 1)).toBeUndefined(); // 150 held in all
  });
});
