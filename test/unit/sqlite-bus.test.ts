// What only the embedded bus promises: the file survives a restart, group commit, retention, a second process.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBus } from '../../src/bus/sqlite.ts';
import { BusUnavailableError, type ConsumedMessage, type OutgoingMessage } from '../../src/bus/types.ts';
import { createLogger } from '../../src/log.ts';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });

let dir: string;
let path: string;
const open: SqliteBus[] = [];

function bus(options: { retentionMs?: number; pollIntervalMs?: number } = {}): SqliteBus {
  const b = new SqliteBus({ path, log, ...options });
  open.push(b);
  return b;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pipewarden-sqlite-bus-'));
  path = join(dir, 'bus.db');
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
  rmSync(dir, { recursive: true, force: true });
});

const msgs = (n: number, prefix = 'm'): OutgoingMessage[] =>
  Array.from({ length: n }, (_, i) => ({ key: `k${i % 3}`, value: JSON.stringify({ id: `${prefix}${i}` }) }));

const ids = (got: ConsumedMessage[]) => got.map((m) => (JSON.parse(m.value) as { id: string }).id);

async function waitFor(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Reads everything currently in the topic through a fresh group, then stops. */
async function readAll(b: SqliteBus, topic: string, expected: number): Promise<ConsumedMessage[]> {
  const got: ConsumedMessage[] = [];
  const sub = await b.subscribe({
    topic,
    group: `read-${randomUUID()}`,
    handler: async (batch) => void got.push(...batch),
  });
  await waitFor(() => got.length >= expected, `${expected} messages`);
  await new Promise((r) => setTimeout(r, 50)); // room for any unexpected extra to show up
  await sub.stop();
  return got;
}

describe('sqlite-bus', () => {
  it('keeps messages and committed offsets across a reopen of the same file', async () => {
    const first = bus();
    await first.ensureTopics(['events']);
    await first.publish('events', [{ key: 'a', value: '{"id":"m0"}', headers: { source: 'github' } }]);
    await first.publish('events', msgs(2, 'n'));
    const seen: ConsumedMessage[] = [];
    const sub = await first.subscribe({
      topic: 'events',
      group: 'index',
      handler: async (b) => void seen.push(...b),
    });
    await waitFor(() => seen.length === 3, 'first three');
    await sub.stop();
    await first.publish('events', msgs(2, 'late'));
    await first.close();

    const second = bus();
    const resumed: ConsumedMessage[] = [];
    const sub2 = await second.subscribe({
      topic: 'events',
      group: 'index',
      handler: async (b) => void resumed.push(...b),
    });
    await waitFor(() => resumed.length === 2, 'the two unconsumed');
    await new Promise((r) => setTimeout(r, 50));
    await sub2.stop();
    expect(ids(resumed)).toEqual(['late0', 'late1']);

    const all = await readAll(second, 'events', 5);
    expect(ids(all)).toEqual(['m0', 'n0', 'n1', 'late0', 'late1']);
    expect(all[0]).toMatchObject({ topic: 'events', partition: 0, key: 'a', headers: { source: 'github' } });
    expect(all.map((m) => m.offset)).toEqual(seen.map((m) => m.offset).concat(resumed.map((m) => m.offset)));
  });

  it('makes a new file with 16 KiB pages (a 7 KB event in one page), and opens an older file as it is', async () => {
    const pageSize = (file: string) => {
      const db = new DatabaseSync(file, { readOnly: true });
      try {
        return (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
      } finally {
        db.close();
      }
    };
    const fresh = bus();
    await fresh.ensureTopics(['events']);
    await fresh.publish('events', [
      { key: 'a', value: JSON.stringify({ id: 'big', pad: 'x'.repeat(7_000) }) },
    ]);
    await fresh.close();
    expect(pageSize(path)).toBe(16_384);

    // A file from before (4 KiB pages, WAL): opened without a rebuild, its messages read as written.
    const older = join(dir, 'older.db');
    const db = new DatabaseSync(older);
    db.exec('PRAGMA page_size = 4096; PRAGMA journal_mode = WAL;');
    db.close();
    const reopened = new SqliteBus({ path: older, log });
    open.push(reopened);
    await reopened.ensureTopics(['events']);
    await reopened.publish('events', msgs(2, 'old'));
    expect(ids(await readAll(reopened, 'events', 2))).toEqual(['old0', 'old1']);
    expect(pageSize(older)).toBe(4_096);
  });

  it('writes publishes from the same tick in one transaction (group commit)', async () => {
    const b = bus();
    await b.ensureTopics(['events']);
    const n = 200;
    await Promise.all(Array.from({ length: n }, (_, i) => b.publish('events', msgs(1, `p${i}-`))));
    expect(b.stats).toEqual({ commits: 1, messages: n });
    const all = await readAll(b, 'events', n);
    expect(ids(all)).toEqual(Array.from({ length: n }, (_, i) => `p${i}-0`));
    // One transaction stamps one storage time on everything it wrote.
    expect(new Set(all.map((m) => m.timestamp)).size).toBe(1);
  });

  it('fails every publish of a failed transaction and stores none of it', async () => {
    const b = bus();
    await b.ensureTopics(['events']);
    await b.publish('events', msgs(1, 'before'));
    // A second connection makes the third insert fail mid-transaction, as a full disk would.
    const other = new DatabaseSync(path);
    other.exec(`CREATE TRIGGER poison BEFORE INSERT ON bus_messages WHEN NEW.key = 'poison'
                BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`);
    const same = b.publish('events', msgs(2, 'neighbour'));
    const poisoned = b.publish('events', [...msgs(2, 'x'), { key: 'poison', value: '{}' }]);
    await expect(poisoned).rejects.toBeInstanceOf(BusUnavailableError);
    await expect(same).rejects.toBeInstanceOf(BusUnavailableError);
    await expect(poisoned).rejects.toMatchObject({
      cause: { message: expect.stringContaining('simulated') },
    });
    other.exec('DROP TRIGGER poison');
    other.close();

    await b.publish('events', msgs(1, 'after'));
    expect(ids(await readAll(b, 'events', 2))).toEqual(['before0', 'after0']);
  });

  it('deletes messages older than the retention period', async () => {
    const b = bus({ retentionMs: 50 });
    await b.ensureTopics(['events']);
    await b.publish('events', msgs(3, 'old'));
    await new Promise((r) => setTimeout(r, 120));
    await b.publish('events', msgs(1, 'new'));
    expect(b.deleteExpired()).toBe(3);
    expect(ids(await readAll(b, 'events', 1))).toEqual(['new0']);
  });

  it('sweeps retention on its own timer', async () => {
    const b = bus({ retentionMs: 50 });
    await b.ensureTopics(['events']);
    await b.publish('events', msgs(2, 'old'));
    await new Promise((r) => setTimeout(r, 1_500)); // the sweep runs at least every second
    expect(b.deleteExpired()).toBe(0);
  });

  it('rejects a publish or subscribe to an unknown topic, without failing the rest of the batch', async () => {
    const b = bus();
    await b.ensureTopics(['events']);
    const good = b.publish('events', msgs(1));
    const bad = b.publish('nope', msgs(1));
    await expect(bad).rejects.toThrow(/unknown topic "nope"/);
    await expect(bad).rejects.not.toBeInstanceOf(BusUnavailableError);
    await expect(good).resolves.toBeUndefined();
    await expect(b.subscribe({ topic: 'nope', group: 'g', handler: async () => {} })).rejects.toThrow(
      /unknown topic/,
    );
  });

  it('allows one consumer per group and topic in a process', async () => {
    const b = bus();
    await b.ensureTopics(['events']);
    const sub = await b.subscribe({ topic: 'events', group: 'g', handler: async () => {} });
    await expect(b.subscribe({ topic: 'events', group: 'g', handler: async () => {} })).rejects.toThrow(
      /group "g" already has a consumer on topic "events"/,
    );
    await sub.stop();
    const again = await b.subscribe({ topic: 'events', group: 'g', handler: async () => {} });
    await again.stop();
  });

  it('sees messages written by another process on the same file by polling', async () => {
    const writer = bus();
    await writer.ensureTopics(['events']);
    const reader = bus({ pollIntervalMs: 20 });
    const got: ConsumedMessage[] = [];
    const sub = await reader.subscribe({
      topic: 'events',
      group: 'g',
      handler: async (b) => void got.push(...b),
    });
    await writer.publish('events', msgs(3));
    await waitFor(() => got.length === 3, 'messages from the other connection');
    await sub.stop();
  });

  it('starts a new group at the end when fromBeginning is false', async () => {
    const b = bus();
    await b.ensureTopics(['events']);
    await b.publish('events', msgs(2, 'old'));
    const got: ConsumedMessage[] = [];
    const sub = await b.subscribe({
      topic: 'events',
      group: 'g',
      fromBeginning: false,
      handler: async (batch) => void got.push(...batch),
    });
    await b.publish('events', msgs(1, 'new'));
    await waitFor(() => got.length === 1, 'the new message');
    await sub.stop();
    expect(ids(got)).toEqual(['new0']);
  });

  it('is unavailable once closed', async () => {
    const b = bus();
    await b.ensureTopics(['events']);
    const accepted = b.publish('events', msgs(1));
    await b.close();
    await expect(accepted).resolves.toBeUndefined(); // accepted before close: written, not dropped
    await expect(b.publish('events', msgs(1))).rejects.toBeInstanceOf(BusUnavailableError);
    await expect(b.ping()).rejects.toBeInstanceOf(BusUnavailableError);
  });

  it('answers a publish once its commit is in the file, however the publishes arrive', async () => {
    const b = bus();
    await b.ensureTopics(['events']);
    const published: Array<Promise<void>> = [];
    // Publishes in 50 successive macrotasks: each finds the commit before it in flight (or not) and joins
    // the next transaction, so there are fewer commits than publishes, and every one is answered.
    for (let i = 0; i < 50; i++) {
      published.push(b.publish('events', msgs(1, `q${i}-`)));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(published);
    expect(b.stats.messages).toBe(50);
    expect(b.stats.commits).toBeLessThanOrEqual(50);
    // Another connection sees every answered message: the writer thread had committed them.
    const other = new DatabaseSync(path);
    const { n } = other.prepare('SELECT COUNT(*) AS n FROM bus_messages').get() as { n: number };
    other.close();
    expect(Number(n)).toBe(50);
  });

  it('with lingerMs, hands messages published in separate moments to the handler as one batch', async () => {
    const b = bus({ pollIntervalMs: 20 });
    await b.ensureTopics(['events']);
    const batches: number[] = [];
    const sub = await b.subscribe({
      topic: 'events',
      group: 'index',
      lingerMs: 400,
      handler: async (batch) => void batches.push(batch.length),
    });
    for (let i = 0; i < 3; i++) {
      await b.publish('events', msgs(1, `l${i}-`));
      await new Promise((r) => setTimeout(r, 30));
    }
    await waitFor(() => batches.reduce((a, x) => a + x, 0) === 3, 'three messages');
    await sub.stop();
    expect(batches).toEqual([3]);
  });
});
