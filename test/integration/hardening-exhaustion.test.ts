// Issue 10 item 7, the attacks of the fault run repeated on loopback against a collector in its own
// process (its RSS measured alone): unsigned 20 MB bodies, bodies trickled a byte at a time, headers
// trickled, and more connections than allowed. Every loop is bounded in count and time.
import { type ChildProcess, fork } from 'node:child_process';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const LIMITS = {
  requestTimeoutMs: 2_000,
  headersTimeoutMs: 1_000,
  idleTimeoutMs: 10_000,
  timeoutCheckIntervalMs: 100,
  maxUnauthenticatedPerClient: 3,
  maxUnauthenticated: 10,
  maxConnections: 60,
};

let child: ChildProcess;
let url: URL;

function ask<T>(message: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(message);
  });
}

beforeAll(async () => {
  child = fork(
    new URL('../support/guarded-collector.ts', import.meta.url).pathname,
    [JSON.stringify({ server: { limits: LIMITS } })],
    { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const { url: u } = await new Promise<{ url: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string }));
    child.once('exit', (code) => reject(new Error(`collector exited with ${code}`)));
  });
  url = new URL(u);
}, 60_000);

afterAll(async () => {
  if (child?.connected) {
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  }
});

/** One POST of `body` with `headers`; resolves with the status, or the socket error when cut first. */
function post(path: string, headers: Record<string, string>, body: Buffer): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        headers: { ...headers, 'content-length': body.length },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.setTimeout(20_000, () => req.destroy(new Error('client timeout')));
    req.end(body);
  });
}

/** A raw connection that sent `head` and then trickles one byte every `everyMs`; `closedAt` once the server ends it. */
function trickle(head: string, everyMs: number) {
  const started = Date.now();
  const conn: { socket: Socket; data: string; closedAt?: number } = {
    socket: connect(Number(url.port), url.hostname),
    data: '',
  };
  conn.socket.setEncoding('utf8');
  conn.socket.on('data', (d) => {
    conn.data += d;
  });
  conn.socket.on('error', () => {});
  conn.socket.on('close', () => {
    conn.closedAt = Date.now() - started;
    clearInterval(timer);
  });
  conn.socket.write(head);
  const timer = setInterval(() => {
    if (!conn.socket.destroyed) conn.socket.write('x');
  }, everyMs);
  return conn;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('nothing unauthenticated can exhaust the collector', () => {
  it('16 unsigned 20 MB bodies are refused before they are read: RSS stays bounded', async () => {
    const { rss: before } = await ask<{ rss: number }>('reset');
    const body = Buffer.alloc(20 * 1024 * 1024, 0x61); // one buffer, sent 16 times
    const results = await Promise.all(
      Array.from({ length: 16 }, () => post('/ingest/github', { 'content-type': 'application/json' }, body)),
    );
    const { peak } = await ask<{ peak: number }>('rss');
    // Answered 401 before the body, or cut while the client was still sending it: never accepted.
    for (const r of results) expect([401, 'EPIPE', 'ECONNRESET']).toContain(r);
    expect(results.filter((r) => r === 401).length).toBeGreaterThan(0);
    // Reading them whole took 16 × 20 MB (the fault run: 153 → 569 MB); refused on the headers, a few MB.
    expect(peak - before).toBeLessThan(100 * 1024 * 1024);
  }, 60_000);

  it('caps signed-looking bodies trickled by one client, and cuts the held ones at the request timeout', async () => {
    const head = [
      'POST /ingest/github HTTP/1.1',
      `Host: ${url.host}`,
      'Content-Type: application/json',
      `X-Hub-Signature-256: sha256=${'0'.repeat(64)}`,
      'Content-Length: 100000',
      '',
      '',
    ].join('\r\n');
    const conns = Array.from({ length: 20 }, () => trickle(head, 200));
    try {
      await sleep(1_000);
      // All but the per-client cap are refused at once with 429.
      const refused = conns.filter((c) => c.data.startsWith('HTTP/1.1 429'));
      expect(refused.length).toBe(20 - LIMITS.maxUnauthenticatedPerClient);
      expect(refused[0]!.data).toContain('not checked yet');
      // The held ones are cut once the request timeout (2 s) passes, though they keep sending.
      const deadline = Date.now() + 6_000;
      while (Date.now() < deadline && conns.some((c) => c.closedAt === undefined)) await sleep(100);
      const held = conns.filter((c) => !c.data.startsWith('HTTP/1.1 429'));
      expect(held).toHaveLength(LIMITS.maxUnauthenticatedPerClient);
      for (const c of held) {
        expect(c.closedAt).toBeDefined();
        expect(c.closedAt!).toBeGreaterThanOrEqual(LIMITS.requestTimeoutMs - 100);
        expect(c.closedAt!).toBeLessThan(LIMITS.requestTimeoutMs + 2_000);
      }
    } finally {
      for (const c of conns) c.socket.destroy();
    }
  }, 30_000);

  it('cuts a client that trickles its headers at the headers timeout', async () => {
    const c = trickle(`POST /ingest/github HTTP/1.1\r\nHost: ${url.host}\r\nX-Slow: `, 200);
    try {
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && c.closedAt === undefined) await sleep(50);
      expect(c.closedAt).toBeDefined();
      expect(c.closedAt!).toBeLessThan(LIMITS.headersTimeoutMs + 1_500);
    } finally {
      c.socket.destroy();
    }
  }, 15_000);

  it('holds at most maxConnections open connections', async () => {
    const sockets = Array.from({ length: 100 }, () => {
      const s = connect(Number(url.port), url.hostname);
      const state = { s, closed: false };
      s.on('error', () => {});
      s.on('close', () => {
        state.closed = true;
      });
      return state;
    });
    try {
      await sleep(1_000);
      const open = sockets.filter((x) => !x.closed).length;
      expect(open).toBeLessThanOrEqual(LIMITS.maxConnections);
      expect(open).toBeGreaterThan(0);
    } finally {
      for (const x of sockets) x.s.destroy();
    }
  }, 15_000);

  it('still accepts a signed request afterwards', async () => {
    await sleep(200);
    const { createHmac } = await import('node:crypto');
    const body = Buffer.from(JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 }));
    const sig = createHmac('sha256', 'test-github-secret').update(body).digest('hex');
    const status = await post(
      '/ingest/github',
      {
        'content-type': 'application/json',
        'x-hub-signature-256': `sha256=${sig}`,
        'x-github-event': 'ping',
        'x-github-delivery': 'd-1',
      },
      body,
    );
    expect(status).toBe(200);
  }, 15_000);
});
