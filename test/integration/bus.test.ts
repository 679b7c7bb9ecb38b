// One contract for every bus: the same tests run against SQLite (a temp file) and the real Kafka broker.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { KafkaBus, kafkaConfigSchema } from '../../src/bus/kafka.ts';
import { SqliteBus } from '../../src/bus/sqlite.ts';
import {
  type BatchHandler,
  type Bus,
  BusUnavailableError,
  type ConsumedMessage,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
} from '../../src/bus/types.ts';
import { createLogger } from '../../src/log.ts';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });

interface Body {
  id: string;
  seq: number;
}

const body = (m: ConsumedMessage) => JSON.parse(m.value) as Body;
const ids = (got: ConsumedMessage[]) => got.map((m) => body(m).id);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` messages spread over `keys` keys; `seq` counts up within each key. */
function messages(prefix: string, n: number, keys = 3): OutgoingMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `key-${i % keys}`,
    value: JSON.stringify({ id: `${prefix}-${i}`, seq: Math.floor(i / keys) } satisfies Body),
    headers: { 'x-test': prefix },
  }));
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** `options`: subscribe options every subscription of the contract gets (Kafka's prefetch, say). */
function busContract(name: string, makeBus: () => Bus, options: Partial<SubscribeOptions> = {}): void {
  describe(name, () => {
    const buses: Bus[] = [];
    const subscriptions: Subscription[] = [];

    afterEach(async () => {
      await Promise.allSettled(subscriptions.splice(0).map((s) => s.stop()));
      await Promise.allSettled(buses.splice(0).map((b) => b.close()));
    });

    function bus(): Bus {
      const b = makeBus();
      buses.push(b);
      return b;
    }

    async function topicWith(b: Bus): Promise<{ topic: string; group: string }> {
      const id = randomUUID().slice(0, 8);
      const topic = `contract-${id}`;
      await b.ensureTopics([topic]);
      return { topic, group: `group-${id}` };
    }

    async function subscribe(
      b: Bus,
      topic: string,
      group: string,
      handler: BatchHandler,
      maxBatch?: number,
    ): Promise<Subscription> {
      const s = await b.subscribe({ ...options, topic, group, handler, maxBatch });
      subscriptions.push(s);
      return s;
    }

    function collector(): { got: ConsumedMessage[]; batchSizes: number[]; handler: BatchHandler } {
      const got: ConsumedMessage[] = [];
      const batchSizes: number[] = [];
      return {
        got,
        batchSizes,
        handler: async (batch) => {
          batchSizes.push(batch.length);
          got.push(...batch);
        },
      };
    }

    it('delivers the messages of a key in order, in batches of at most maxBatch', async () => {
      const b = bus();
      const { topic, group } = await topicWith(b);
      const all = messages('order', 60);
      for (let i = 0; i < all.length; i += 10) await b.publish(topic, all.slice(i, i + 10));
      const c = collector();
      await subscribe(b, topic, group, c.handler, 7);
      await waitFor(() => c.got.length >= 60, '60 messages');

      expect(new Set(ids(c.got)).size).toBe(60);
      expect(Math.max(...c.batchSizes)).toBeLessThanOrEqual(7);
      for (const key of ['key-0', 'key-1', 'key-2']) {
        const ofKey = c.got.filter((m) => m.key === key);
        expect(ofKey.map((m) => body(m).seq)).toEqual([...Array(20).keys()]);
        expect(new Set(ofKey.map((m) => m.partition)).size).toBe(1);
        const offsets = ofKey.map((m) => BigInt(m.offset));
        expect(offsets).toEqual([...offsets].sort((x, y) => (x < y ? -1 : 1)));
      }
      const first = c.got[0]!;
      expect(first).toMatchObject({ topic, headers: { 'x-test': 'order' } });
      expect(first.offset).toMatch(/^\d+$/);
      expect(Math.abs(first.timestamp - Date.now())).toBeLessThan(120_000);
    });

    it('redelivers the same messages after a handler failure (at least once)', async () => {
      const b = bus();
      const { topic, group } = await topicWith(b);
      await b.publish(topic, messages('retry', 5, 1));
      const calls: string[][] = [];
      await subscribe(b, topic, group, async (batch) => {
        calls.push(batch.map((m) => m.offset));
        if (calls.length === 1) throw new Error('transient failure');
      });
      await waitFor(() => calls.flat().length >= 10, 'the failed batch and its redelivery');
      expect(calls[1]).toEqual(calls[0]);
    });

    it('does not advance the offset while the handler keeps failing', async () => {
      const b = bus();
      const { topic, group } = await topicWith(b);
      await b.publish(topic, messages('stuck', 4, 1));
      let calls = 0;
      const failing = await subscribe(b, topic, group, async () => {
        calls += 1;
        throw new Error('always fails');
      });
      await waitFor(() => calls >= 2, 'two failed attempts');
      await failing.stop();

      const c = collector();
      await subscribe(bus(), topic, group, c.handler);
      await waitFor(() => c.got.length >= 4, 'the same four messages');
      expect(ids(c.got)).toEqual(['stuck-0', 'stuck-1', 'stuck-2', 'stuck-3']);
    });

    it('resumes a group after the last committed message: no loss, no repeat', async () => {
      const b = bus();
      const { topic, group } = await topicWith(b);
      await b.publish(topic, messages('early', 12));
      const first = collector();
      const s = await subscribe(b, topic, group, first.handler, 5);
      await waitFor(() => first.got.length >= 12, 'the first 12');
      await s.stop();
      expect(first.got).toHaveLength(12);

      await b.publish(topic, messages('late', 6));
      const second = collector();
      await subscribe(bus(), topic, group, second.handler);
      await waitFor(() => second.got.length >= 6, 'the 6 published after stop');
      await sleep(1_000); // time for a repeat to show up, if there were one
      expect(ids(second.got).sort()).toEqual(['late-0', 'late-1', 'late-2', 'late-3', 'late-4', 'late-5']);
    });

    it('stop() waits for the batch in flight and commits it', async () => {
      const b = bus();
      const { topic, group } = await topicWith(b);
      await b.publish(topic, messages('inflight', 3, 1));
      let release!: () => void;
      let started = false;
      const s = await subscribe(b, topic, group, () => {
        started = true;
        return new Promise<void>((r) => {
          release = r;
        });
      });
      await waitFor(() => started, 'the handler to start');
      let stopped = false;
      const stopping = s.stop().then(() => {
        stopped = true;
      });
      await sleep(300);
      expect(stopped).toBe(false);
      release();
      await stopping;

      await b.publish(topic, messages('after', 1, 1));
      const c = collector();
      await subscribe(bus(), topic, group, c.handler);
      await waitFor(() => c.got.length >= 1, 'the message published after stop');
      await sleep(500);
      expect(ids(c.got)).toEqual(['after-0']);
    });

    it('gives every group every message', async () => {
      const b = bus();
      const { topic, group } = await topicWith(b);
      await b.publish(topic, messages('fan', 20));
      const one = collector();
      const two = collector();
      await subscribe(b, topic, `${group}-one`, one.handler);
      await subscribe(b, topic, `${group}-two`, two.handler);
      await b.publish(topic, messages('fan-late', 5));
      await waitFor(() => one.got.length >= 25 && two.got.length >= 25, 'both groups to see all 25');
      expect(new Set(ids(one.got)).size).toBe(25);
      expect(ids(two.got).sort()).toEqual(ids(one.got).sort());
    });

    it('rejects a publish with BusUnavailableError once closed', async () => {
      const b = bus();
      const { topic } = await topicWith(b);
      await b.publish(topic, messages('open', 1));
      await b.ping();
      await b.close();
      await expect(b.publish(topic, messages('closed', 1))).rejects.toBeInstanceOf(BusUnavailableError);
      await expect(b.ping()).rejects.toBeInstanceOf(BusUnavailableError);
    });

    it('reports the lag of a group: everything retained before it commits, nothing once it has caught up', async () => {
      const b = bus();
      const { topic, group } = await topicWith(b);
      await b.publish(topic, messages('lag', 7));
      expect(await b.lag(group, topic)).toBe(7);
      const { got, handler } = collector();
      await subscribe(b, topic, group, handler);
      await waitFor(() => got.length === 7, 'the 7 messages');
      let lag = -1;
      const deadline = Date.now() + 30_000;
      while (lag !== 0 && Date.now() < deadline) {
        lag = await b.lag(group, topic);
        if (lag !== 0) await sleep(100);
      }
      expect(lag).toBe(0);
      await b.publish(topic, messages('lag-more', 2));
      // The subscriber may take them at once; the lag never exceeds what was published after the commit.
      expect(await b.lag(group, topic)).toBeLessThanOrEqual(2);
    });

    it('creates topics idempotently', async () => {
      const b = bus();
      const id = randomUUID().slice(0, 8);
      const [t1, t2] = [`contract-${id}-a`, `contract-${id}-b`];
      await Promise.all([b.ensureTopics([t1]), b.ensureTopics([t1])]);
      await b.ensureTopics([t1, t2, t1]);
      await bus().ensureTopics([t1, t2]); // as a second process starting up would
      await b.publish(t1, messages('a', 2));
      await b.publish(t2, messages('b', 2));
      const c = collector();
      await subscribe(b, t2, `group-${id}`, c.handler);
      await waitFor(() => c.got.length >= 2, 'the messages on the second topic');
      expect(ids(c.got).sort()).toEqual(['b-0', 'b-1']);
    });
  });
}

describe('bus', () => {
  describe('on a SQLite file', () => {
    let dir: string;
    let path: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'pipewarden-bus-contract-'));
    });
    beforeEach(() => {
      path = join(dir, `${randomUUID()}.db`);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    busContract('sqlite-bus', () => new SqliteBus({ path, log, pollIntervalMs: 50 }));
  });

  describe('on the Kafka broker', () => {
    const config = () => kafkaConfigSchema.parse({ brokers: inject('kafkaBrokers').split(',') });

    busContract('kafka-bus', () => new KafkaBus(config(), { log }));
    // The same contract with messages fetched ahead while the handler works (as the index role does).
    busContract('kafka-bus, prefetching', () => new KafkaBus(config(), { log }), { prefetch: 1000 });

    it('rejects a publish with BusUnavailableError quickly when the broker is dead', async () => {
      const dead = new KafkaBus(kafkaConfigSchema.parse({ brokers: ['127.0.0.1:1'] }), { log });
      const started = Date.now();
      await expect(dead.publish('events', messages('dead', 1))).rejects.toBeInstanceOf(BusUnavailableError);
      expect(Date.now() - started).toBeLessThan(30_000);
      await expect(dead.ping()).rejects.toBeInstanceOf(BusUnavailableError);
      await dead.close();
    });

    it('tells each member when the group hands it partitions: at start and after a rebalance', async () => {
      const id = randomUUID().slice(0, 8);
      const topic = `assign-${id}`;
      const a = new KafkaBus(config(), { log });
      const b = new KafkaBus(config(), { log });
      const subs: Subscription[] = [];
      try {
        await a.ensureTopics([topic]);
        let assignedA = 0;
        let assignedB = 0;
        const handler: BatchHandler = async () => {};
        subs.push(
          await a.subscribe({ topic, group: `g-${id}`, handler, onAssignment: () => void assignedA++ }),
        );
        await waitFor(() => assignedA === 1, 'the first assignment', 30_000);
        subs.push(
          await b.subscribe({ topic, group: `g-${id}`, handler, onAssignment: () => void assignedB++ }),
        );
        // B joining makes the group rebalance: both are told again.
        await waitFor(() => assignedB >= 1 && assignedA >= 2, 'the rebalance', 60_000);
      } finally {
        await Promise.allSettled(subs.map((s) => s.stop()));
        await Promise.allSettled([a.close(), b.close()]);
      }
    });

    it('rejects a publish to a topic that was never created, as a caller error', async () => {
      const b = new KafkaBus(config(), { log });
      try {
        const err = await b
          .publish(`never-created-${randomUUID()}`, messages('x', 1))
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        expect(err).not.toBeInstanceOf(BusUnavailableError);
        expect((err as Error).message).toMatch(/unknown topic/);
      } finally {
        await b.close();
      }
    });
  });
});
