// rawHits cuts each hit's _source out of a search response's text exactly as it appears there.
import { describe, expect, it } from 'vitest';
import { RawHitsError, rawHits } from '../../src/store/raw-hits.ts';

const response = (hits: string[]) =>
  `{"took":3,"timed_out":false,"_shards":{"total":1},"hits":{"total":{"value":${hits.length},"relation":"eq"},"max_score":null,"hits":[${hits.join(',')}]}}`;

describe('rawHits', () => {
  it('returns each _source byte for byte, with the hit index, id and sort values', () => {
    const sources = [
      '{"a":"x",  "n":1.50, "b":"caf\\u00e9 \\/ ok","big":12345678901234567890,"e":1e3}',
      '{ "s": "a \\"quoted\\" } { [ brace", "t": "ends with backslash \\\\", "u": [1, {"v": "]"}] }',
      '{"hits":{"hits":[{"_source":{"nested":"not a hit"}}]},"_source":"a key of the event"}',
      '{}',
    ];
    const text = response(
      sources.map(
        (s, i) => `{"_index":"ix-${i}","_id":"id-${i}","_score":null,"_source":${s},"sort":[${i},"k${i}"]}`,
      ),
    );
    const hits = rawHits(text);
    expect(hits.map((h) => h.source)).toEqual(sources);
    expect(hits.map((h) => h.id)).toEqual(['id-0', 'id-1', 'id-2', 'id-3']);
    expect(hits.map((h) => h.index)).toEqual(['ix-0', 'ix-1', 'ix-2', 'ix-3']);
    expect(hits[2]!.sort).toEqual([2, 'k2']);
    // The texts are the same values JSON.parse reads from the whole response.
    const parsed = JSON.parse(text) as { hits: { hits: Array<{ _source: unknown }> } };
    expect(hits.map((h) => JSON.parse(h.source!))).toEqual(parsed.hits.hits.map((h) => h._source));
  });

  it('reads pretty-printed responses and hits without a _source', () => {
    const text = JSON.stringify(
      { took: 1, hits: { total: 2, hits: [{ _id: 'a', _source: { x: [1, 2] } }, { _id: 'b' }] } },
      null,
      2,
    );
    const hits = rawHits(text);
    expect(hits).toHaveLength(2);
    expect(JSON.parse(hits[0]!.source!)).toEqual({ x: [1, 2] });
    expect(hits[1]!.source).toBeUndefined();
    expect(rawHits(response([]))).toEqual([]);
  });

  it('names where a malformed response breaks off', () => {
    expect(() => rawHits('{"hits":{"hits":[{"_source":{"a":"unterminated}]}}')).toThrow(RawHitsError);
    expect(() => rawHits('{"hits":{"hits":[{"_source":{"a":1}')).toThrow(/unterminated|expected/);
    expect(() => rawHits('[1,2]')).toThrow(/expected an object at 0/);
  });
});
