// Packed key states (src/detect/key-states.ts): what is set is what is got back, field for field, for
// every shape a rule type keeps (times before, at and after wm; fractional and far times; values and ids
// beyond Latin-1), and the Map behaviour the engine relies on (last-touched order, size, iteration).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyStates, pack, times, unpack } from '../../src/detect/key-states.ts';
import { type KeyState, NONE, newState } from '../../src/detect/rule-types.ts';

const WM = Date.parse('2026-11-22T09:00:00Z');

const time = fc.oneof(
  fc.integer({ min: WM - 8 * 86_400_000, max: WM }), // inside any window: packed as a delta
  fc.integer({ min: WM, max: WM + 86_400_000 }), // after wm (scheduled periods)
  fc.double({ min: 0, max: 4e12, noNaN: true }), // fractional or far: packed as a double
  fc.constant(WM),
);
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 8 }));

const state: fc.Arbitrary<KeyState> = fc
  .record({
    t: fc.array(time, { maxLength: 12 }),
    distinct: fc.boolean(),
    values: fc.array(text, { maxLength: 12 }),
    e: fc.oneof(
      fc.constant(''),
      text,
      fc.array(fc.base64String({ minLength: 32, maxLength: 32 })).map((a) => a.join(' ')),
    ),
    n: fc.option(fc.nat(), { nil: undefined }),
    wm: fc.oneof(fc.constant(WM), fc.constant(NONE), time),
    fired: fc.oneof(fc.constant(NONE), time),
    src: fc.option(fc.constantFrom('events/0', 'events/3', 'events.by-source-ip/1', 'ünïcode/2'), {
      nil: undefined,
    }),
    off: fc.oneof(fc.constant(-1), fc.nat(), fc.constant(2 ** 40)),
  })
  .map(({ t, distinct, values, e, n, wm, fired, src, off }) => {
    const s: KeyState = {
      t,
      v: distinct ? t.map((_, i) => values[i % Math.max(1, values.length)] ?? '') : undefined,
      e,
      wm,
      fired,
      src,
      off: src === undefined ? -1 : off,
    };
    if (n !== undefined) s.n = n;
    return s;
  });

describe('packed key states', () => {
  it('unpacks every state to what was packed', () => {
    fc.assert(
      fc.property(state, (s) => {
        const back = unpack(pack(s));
        expect(back).toEqual(s);
        expect(times(pack(s))).toEqual({ wm: s.wm, fired: s.fired });
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the states of every rule type as new', () => {
    for (const type of ['threshold', 'distinct', 'sequence', 'absence', 'scheduled'])
      expect(unpack(pack(newState(type)))).toEqual(newState(type));
  });

  it('a one-time threshold state is a small flat string', () => {
    const s = newState('threshold');
    s.wm = WM;
    s.t = [WM];
    s.e = 'A'.repeat(32);
    // flags, wm, count, and the id: the time equal to wm is not stored
    expect(pack(s).length).toBe(1 + 8 + 2 + 32);
    s.t = [WM - 60_000, WM];
    expect(pack(s).length).toBe(1 + 8 + 2 + 4 + 32);
  });

  it('behaves as the Map the engine used: get gives a copy, set keeps its place, iteration in order', () => {
    const states = new KeyStates();
    const a = newState('threshold');
    a.wm = WM;
    a.t = [WM];
    states.set('a', a).set('b', newState('threshold'));
    const got = states.get('a')!;
    got.t.push(WM + 1);
    expect(states.get('a')!.t).toEqual([WM]); // not kept until set
    states.set('a', got);
    expect(states.get('a')!.t).toEqual([WM, WM + 1]);
    expect([...states.keys()]).toEqual(['a', 'b']); // an existing key keeps its place
    states.delete('a');
    states.set('a', got);
    expect([...states].map(([k]) => k)).toEqual(['b', 'a']);
    expect(states.size).toBe(2);
    expect(states.has('c')).toBe(false);
    states.clear();
    expect(states.size).toBe(0);
  });
});
