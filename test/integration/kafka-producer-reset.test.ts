// A produce request that reached the broker but whose answer was lost (issue 10, item 5): the publish
// fails (its outcome unknown), and the next publish to the same partition must still be written.
// kafkajs rewinds the partition's sequence number after a failed send; the next batch of the same size
// then carried the failed batch's sequence numbers and the broker, which had written that batch, answered
// it as a duplicate: acknowledged (a 202 upstream) but never on the topic. Real broker; the fault is a
// socket that passes the produce request on and then drops the connection before its answer is read.
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { KafkaBus, kafkaConfigSchema } from '../../src/bus/kafka.ts';
import { BusUnavailableError } from '../../src/bus/types.ts';
import { createLogger } from '../../src/log.ts';

const PRODUCE = 0; // Kafka API key of a Produce request

describe('the Kafka bus after a send whose outcome is unknown', () => {
  const brokers = inject('kafkaBrokers').split(',');
  const topic = `producer-reset-${randomUUID()}`;
  let cutting = false;
  let cuts = 0;
  // Connections as kafkajs makes them, except that while `cutting`, a Produce request is written to the
  // broker, its answer is dropped, and the connection is closed (as a leader that dies after appending).
  const socketFactory = ({
    host,
    port,
    onConnect,
  }: {
    host: string;
    port: number;
    onConnect: () => void;
  }) => {
    const socket = connect({ host, port }, onConnect);
    let deaf = false;
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    (socket as unknown as { emit: typeof emit }).emit = (event, ...args) =>
      deaf && event === 'data' ? true : emit(event, ...args);
    const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean;
    (socket as unknown as { write: typeof write }).write = (chunk: Buffer, ...rest: unknown[]) => {
      if (cutting && Buffer.isBuffer(chunk) && chunk.length >= 6 && chunk.readInt16BE(4) === PRODUCE) {
        cuts++;
        deaf = true; // the answer never reaches kafkajs
        setTimeout(() => socket.end(), 500); // by then the single broker has appended the batch
      }
      return write(chunk, ...rest);
    };
    return socket as Socket;
  };
  const bus = new KafkaBus(kafkaConfigSchema.parse({ brokers, partitions: 1 }), {
    log: createLogger({ level: 'silent' }),
    socketFactory,
  });

  afterAll(async () => {
    await bus.close();
  });

  it('writes the next publish to the partition rather than taking it for a duplicate', async () => {
    await bus.ensureTopics([topic]);
    await bus.publish(topic, [{ key: 'k', value: 'before' }]);

    cutting = true;
    const unknown = await bus.publish(topic, [{ key: 'k', value: 'outcome-unknown' }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    cutting = false;
    expect(cuts).toBeGreaterThan(0);
    expect(unknown).toBeInstanceOf(BusUnavailableError);

    // The bus fails fast until its probe finds the broker again; then the same-sized publish goes out.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await bus.publish(topic, [{ key: 'k', value: 'after' }]);
        break;
      } catch (err) {
        if (!(err instanceof BusUnavailableError) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }

    // What is on the partition, read back with a plain consumer.
    const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `producer-reset-${randomUUID()}` });
    const values: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          values.push(message.value?.toString() ?? '');
        },
      });
      const until = Date.now() + 30_000;
      while (!values.includes('after') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await consumer.disconnect();
    }
    // 'outcome-unknown' was appended (its retries were answered as duplicates of it): the failed publish
    // is on the topic although refused; 'after', acknowledged, must be there too.
    expect(values).toContain('after');
    expect(values.filter((v) => v === 'after')).toHaveLength(1);
    expect(values[0]).toBe('before');
  }, 90_000);
});
