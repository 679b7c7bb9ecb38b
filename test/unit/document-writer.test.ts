// Writes of single documents made while one is in flight go out together in one _bulk, each caller
// answered by its own item.
import type { Client } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';
import { DocumentWriter } from '../../src/store/document-writer.ts';
import { storeUnavailable } from '../../src/store/errors.ts';

type Op = { index?: { _index: string; _id: string } };

/** A client whose bulk answers after `ms`, refusing the ids in `refuse` (status 429) or failing outright. */
function fakeClient(options: { ms?: number; refuse?: Set<string>; fail?: boolean } = {}) {
  const requests: string[][] = [];
  const client = {
    async bulk({ operations }: { operations: Op[] }) {
      const ids = operations.flatMap((op) => (op.index ? [op.index._id] : []));
      requests.push(ids);
      await new Promise((r) => setTimeout(r, options.ms ?? 10));
      if (options.fail) throw new Error('connection reset');
      return {
        errors: ids.some((id) => options.refuse?.has(id)),
        items: ids.map((id) => ({
          index: options.refuse?.has(id)
            ? {
                _id: id,
                status: 429,
                error: { type: 'es_rejected_execution_exception', reason: 'queue full' },
              }
            : { _id: id, status: 201 },
        })),
      };
    },
  };
  return { client: client as unknown as Client, requests };
}

describe('DocumentWriter', () => {
  it('sends up to four writes at once, and those made meanwhile together in the next bulk', async () => {
    const { client, requests } = fakeClient();
    const writer = new DocumentWriter(client);
    const first = ['a', 'b', 'c', 'd'].map((id) => writer.write('alerts', id, { id }));
    await new Promise((r) => setTimeout(r, 1));
    const later = ['e', 'f', 'g'].map((id) => writer.write(id === 'f' ? 'state' : 'alerts', id, {}));
    await Promise.all([...first, ...later]);
    expect(requests).toEqual([['a'], ['b'], ['c'], ['d'], ['e', 'f', 'g']]);
  });

  it('a refused document fails its own write only, as a "retry later" store error', async () => {
    const { client } = fakeClient({ refuse: new Set(['b']) });
    const writer = new DocumentWriter(client);
    const results = await Promise.allSettled(['a', 'b', 'c'].map((id) => writer.write('alerts', id, {})));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (results[1] as PromiseRejectedResult).reason;
    expect(storeUnavailable(err)).toMatch(/429 es_rejected_execution_exception/);
  });

  it('a failed request fails every write in it, and the next writes go out again', async () => {
    const failing = fakeClient({ fail: true });
    const writer = new DocumentWriter(failing.client);
    const results = await Promise.allSettled(['a', 'b'].map((id) => writer.write('alerts', id, {})));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(failing.requests).toEqual([['a'], ['b']]); // each went alone: fewer than four in flight
    await expect(writer.write('alerts', 'c', {})).rejects.toThrow(/connection reset/);
    expect(failing.requests).toEqual([['a'], ['b'], ['c']]);
  });
});
