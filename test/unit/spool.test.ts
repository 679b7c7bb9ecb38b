// The ingest spool over a real SQLite bus whose publish is refused on demand (a bus outage as the ingest
// role sees it: BusUnavailableError). What is spooled survives a restart, is forwarded in arrival order
// (new events queue behind it while anything waits), and only a full spool refuses events.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteBus } from '../../src/bus/sqlite.ts';
import { type Bus, BusUnavailableError, type ConsumedMessage } from '../../src/bus/types.ts';
import { Spool } from '../../src/ingest/spool.ts';
import { createLogger } from '../../src/log.ts';
import { eventually } from '../support/app.ts';

const log = createLogger({ level: 'silent' });
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** The real bus, refusing publishes while `down` is set. */
function flaky(bus: SqliteBus): Bus & { down: boolean } {
  const b = {
    down: false,
    kind: bus.kind,
    ensureTopics: (t: string[]) => bus.ensureTopics(t),
    publish: async (topic: string, m: Parameters<Bus['publish']>[1]) => {
      if (b.down) throw new BusUnavailableError('Kafka unreachable (test)');
      return bus.publish(topic, m);
    },
    subscribe: (o: Parameters<Bus['subscribe']>[0]) => bus.subscribe(o),
    lag: (g: string, t: string) => bus.lag(g, t),
    ping: () => bus.ping(),
    close: () => bus.close(),
  };
  return b;
}

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'pipewarden-spool-unit-'));
  const real = new SqliteBus({ path: join(dir, 'bus.sqlite'), log, pollIntervalMs: 20 });
  await real.ensureTopics(['events']);
  closers.push(() => real.close());
  const got: string[] = [];
  const sub = await real.subscribe({
    topic: 'events',
    group: 'g',
    handler: async (batch: ConsumedMessage[]) => {
      for (const m of batch) got.push(m.value);
    },
  });
  closers.push(() => sub.stop());
  return { dir, bus: flaky(real), got };
}

const msg = (v: string) => [{ key: 'k', value: v }];

describe('spool', () => {
  it('takes events while the bus is down and forwards them, and later ones, in arrival order', async () => {
    const { dir, bus, got } = await setup();
    const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 1024 * 1024 }, bus, { log });
    closers.push(() => spool.close());
    await spool.publish('events', msg('1'));
    bus.down = true;
    await spool.publish('events', msg('2'));
    await spool.publish('events', msg('3'));
    expect(spool.depth).toBe(2);
    bus.down = false;
    await spool.publish('events', msg('4')); // behind what waits, not before it
    await eventually(async () => got.length === 4 && spool.depth === 0, 10_000, 'forwarded');
    expect(got).toEqual(['1', '2', '3', '4']);
    await spool.publish('events', msg('5')); // empty again: straight to the bus
    await eventually(async () => got.length === 5, 5_000, 'direct');
    expect(spool.depth).toBe(0);
  });

  it('keeps what it holds across a restart and forwards it then', async () => {
    const { dir, bus, got } = await setup();
    bus.down = true;
    const first = new Spool({ dir: join(dir, 'spool'), maxBytes: 1024 * 1024 }, bus, { log });
    await first.publish('events', [...msg('a'), ...msg('b')]);
    await first.close();
    bus.down = false;
    const second = new Spool({ dir: join(dir, 'spool'), maxBytes: 1024 * 1024 }, bus, { log });
    closers.push(() => second.close());
    await eventually(async () => got.length === 2, 10_000, 'forwarded after restart');
    expect(got).toEqual(['a', 'b']);
  });

  it('refuses with BusUnavailableError (503) only when full, and says so on readiness', async () => {
    const { dir, bus } = await setup();
    bus.down = true;
    const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 1024 * 1024 }, bus, { log });
    closers.push(() => spool.close());
    const big = 'x'.repeat(400 * 1024);
    await spool.publish('events', msg(big));
    await spool.publish('events', msg(big));
    expect(spool.problem()).toBeUndefined();
    const err = await spool.publish('events', msg(big)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusUnavailableError);
    expect((err as Error).message).toMatch(/local spool is full/);
    expect(spool.depth).toBe(2); // all of a publish or none of it
    await spool.publish('events', msg('small')); // what still fits is taken
    expect(spool.depth).toBe(3);
  });
});
