// The index role hands the store each event with the text it was read from: SQLite keeps that text as the
// document, so an event whose raw payload was never parsed (readEvent leaves it for when it is read) is
// stored whole without parsing it, and comes back whole.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureEvent } from '../../detectors/fixtures.ts';
import { encodeEventMessage } from '../../src/bus/encode.ts';
import { readEvent } from '../../src/bus/messages.ts';
import { createLogger } from '../../src/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

const dir = mkdtempSync(join(tmpdir(), 'pw-source-text-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite store: source texts', () => {
  it('stores the text an event was read from, its raw payload left unparsed, and reads it back whole', async () => {
    const store = new SqliteStore({ path: join(dir, 'store.sqlite') });
    await store.init();
    const original = fixtureEvent('github', 'push__default.json');
    expect(original.pipewarden.raw).toBeDefined();
    const { value, headers } = encodeEventMessage(original);
    const bytes = new Uint8Array(Buffer.from(value));
    const m = {
      topic: 't',
      partition: 0,
      offset: '0',
      key: 'k',
      value,
      bytes,
      headers: headers!,
      timestamp: 0,
    };
    const e = readEvent(m, createLogger({ level: 'silent' }))!;
    const lazy = () => typeof Object.getOwnPropertyDescriptor(e.pipewarden, 'raw')?.get === 'function';
    expect(lazy()).toBe(true);
    await store.indexEvents([e], { sourceTexts: new Map([[e, bytes]]) });
    expect(lazy()).toBe(true); // not serialised again: the payload was never parsed
    const back = await store.getEvent(original.event.id);
    expect(back).toEqual(JSON.parse(JSON.stringify(original)));
    await store.close();
  });
});
