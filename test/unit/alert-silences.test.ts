// Silence matchers: =, !=, =~, !~ and globs on the routing fields, the accepted input shapes, regexes
// checked for catastrophic backtracking at creation, and a silence of everything only when asked for.
import { describe, expect, it } from 'vitest';
import {
  formatMatcher,
  parseMatcher,
  type Silence,
  SilenceError,
  Silences,
  silenceMatches,
} from '../../src/alerting/silences.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

const NOW = Date.parse('2026-05-01T10:00:00Z');

const hit: Hit = {
  id: 'h1',
  '@timestamp': '2026-05-01T09:59:00Z',
  detected_at: '2026-05-01T09:59:01Z',
  detector: 'branch-protection-disabled',
  title: 't',
  severity: 'high',
  summary: 's',
  description: 'd',
  runbook: 'r',
  key: 'octo-org/payments',
  event_ids: [],
  source: 'github',
  actor: 'Mallory',
  repository: 'octo-org/payments',
  organization: 'octo-org',
  environment: 'production',
  context: { rule: 'protection-removed' },
};

function silence(...matchers: string[]): Silence {
  return {
    id: `sil_${matchers.join('|')}`,
    matchers: matchers.map(parseMatcher),
    startsAt: '2026-05-01T09:00:00Z',
    endsAt: '2026-05-01T11:00:00Z',
    createdBy: 'ana',
    createdAt: '2026-05-01T09:00:00Z',
    comment: 'c',
  };
}

// matchers → whether they silence `hit`
const CASES: Array<[string[], boolean]> = [
  [['actor=mallory'], true], // case-insensitive
  [['actor=mallory2'], false],
  [['actor!=ci-bot'], true],
  [['actor!=Mallory'], false],
  [['repository=~octo-org/pay.*'], true],
  [['repository=~pay.*'], false], // anchored
  [['repository!~octo-org/.*', 'detector=branch-protection-disabled'], false],
  [['repository~octo-org/*'], true], // a glob's * crosses '/'
  [['repository~*/pay?ents'], true],
  [['repository~acme/*'], false],
  [['rule=protection-removed', 'severity=high'], true],
  [['rule=protection-removed', 'severity=critical'], false],
  [['source_ip!='], false], // no source_ip: the empty string
  [['environment~prod*', 'organisation=octo-org'], true],
  [['key=~octo-org/(payments|billing)'], true],
];

describe('silence matchers', () => {
  it.each(CASES)('%j silences the hit: %s', (matchers, expected) => {
    expect(silenceMatches(silence(...matchers), hit, NOW)).toBe(expected);
  });

  it('matches only between start and end, and not once expired', () => {
    const s = silence('actor=mallory');
    expect(silenceMatches({ ...s, startsAt: '2026-05-01T10:30:00Z' }, hit, NOW)).toBe(false);
    expect(silenceMatches({ ...s, endsAt: '2026-05-01T10:00:00Z' }, hit, NOW)).toBe(false);
    expect(silenceMatches({ ...s, expiredBy: 'bob' }, hit, NOW)).toBe(false);
  });

  it('parses and prints the text form, and names what is wrong', () => {
    expect(parseMatcher('repository~octo/*')).toEqual({ name: 'repository', op: 'glob', value: 'octo/*' });
    expect(parseMatcher('actor=~ci-.*')).toEqual({ name: 'actor', op: '=~', value: 'ci-.*' });
    expect(formatMatcher(parseMatcher('actor!~ci-.*'))).toBe('actor!~ci-.*');
    expect(() => parseMatcher('team=platform')).toThrow(/unknown field 'team'/);
    expect(() => parseMatcher('just-text')).toThrow(/must be name=value/);
  });
});

describe('creating silences', () => {
  const make = async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.init();
    return new Silences(store, () => new Date(NOW));
  };

  it('accepts the list, text and { field: value } shapes', async () => {
    const silences = await make();
    const a = await silences.create(
      {
        matchers: [{ name: 'actor', op: '=~', value: 'mal.*' }, 'repository~octo-org/*'],
        durationMinutes: 30,
        comment: 'pen test',
      },
      'ana',
    );
    expect(a.matchers.map(formatMatcher)).toEqual(['actor=~mal.*', 'repository~octo-org/*']);
    expect(a).toMatchObject({ createdBy: 'ana', comment: 'pen test', endsAt: '2026-05-01T10:30:00.000Z' });
    const b = await silences.create({ matchers: { actor: 'ci-*', key: 'x' }, comment: 'c' }, 'ana');
    expect(b.matchers.map(formatMatcher)).toEqual(['actor~ci-*', 'key=x']);
    expect((await silences.matching(hit))?.id).toBe(a.id);
  });

  it('refuses a regex that can backtrack exponentially, or is not one, naming the matcher', async () => {
    const silences = await make();
    await expect(silences.create({ matchers: ['actor=~(a+)+$'], comment: 'c' }, 'ana')).rejects.toThrow(
      /actor=~\(a\+\)\+\$: the regex may take exponential time/,
    );
    await expect(silences.create({ matchers: ['actor=~(oops'], comment: 'c' }, 'ana')).rejects.toThrow(
      /must be a valid regular expression/,
    );
    await expect(
      silences.create({ matchers: ['actor=~(a+)+$'], comment: 'c' }, 'ana'),
    ).rejects.toBeInstanceOf(SilenceError);
  });

  it('refuses a silence of everything unless asked for, and one with no matcher', async () => {
    const silences = await make();
    for (const matchers of [['actor!=nobody'], ['repository~*'], ['key=~.*'], ['actor!~x', 'detector~**']])
      await expect(silences.create({ matchers, comment: 'c' }, 'ana')).rejects.toThrow(
        /would silence every hit.*matchAll: true/,
      );
    const all = await silences.create(
      { matchers: ['key=~.*'], comment: 'maintenance', matchAll: true },
      'ana',
    );
    expect(all.matchAll).toBe(true);
    expect((await silences.matching({ ...hit, actor: 'anyone' }))?.id).toBe(all.id);
    await expect(silences.create({ matchers: [], comment: 'c' }, 'ana')).rejects.toThrow(
      /needs at least one matcher/,
    );
    await expect(
      silences.create({ matchers: ['actor=x'], comment: 'c', endsAt: '2026-05-01T09:00:00Z' }, 'ana'),
    ).rejects.toThrow(/endsAt/);
  });
});
