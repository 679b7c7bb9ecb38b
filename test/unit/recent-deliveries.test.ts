// The ingest route's memory of recent delivery ids and content keys (replay protection without the bus).
import { describe, expect, it } from 'vitest';
import { RecentDeliveries } from '../../src/ingest/plugin.ts';

describe('RecentDeliveries', () => {
  it('remembers the last `capacity` keys and forgets the oldest first; a key added again keeps its place', () => {
    const r = new RecentDeliveries(3);
    for (const k of ['a', 'b', 'c']) r.add(k);
    expect(['a', 'b', 'c'].map((k) => r.has(k))).toEqual([true, true, true]);
    r.add('d');
    expect(r.has('a')).toBe(false);
    r.add('b'); // already there: not moved to the end
    r.add('e');
    expect(['b', 'c', 'd', 'e'].map((k) => r.has(k))).toEqual([false, true, true, true]);
    expect(r.size).toBe(3);
  });

  it('costs about the same per add once full as before (no walk over forgotten entries)', () => {
    const capacity = 50_000;
    const r = new RecentDeliveries(capacity);
    const keys = Array.from({ length: capacity * 4 }, (_, i) => `github\u0000delivery-${i}`);
    const time = (from: number, to: number) => {
      const t0 = performance.now();
      for (let i = from; i < to; i++) {
        r.has(keys[i]!);
        r.add(keys[i]!);
      }
      return performance.now() - t0;
    };
    const filling = time(0, capacity);
    time(capacity, capacity * 2); // the steady state: every add forgets one
    const full = time(capacity * 2, capacity * 3);
    // The Map walked from its first slot: 195× in this test before the ring.
    expect(full / filling).toBeLessThan(8);
    expect(r.size).toBe(capacity);
    expect(r.has(keys[capacity * 3 - 1]!)).toBe(true);
    expect(r.has(keys[capacity * 2 - 1]!)).toBe(false);
  });
});
