// Issue 10 item 12: patterns from config never backtrack over attacker-controlled fields. Globs are
// matched by a linear NFA (src/util/glob.ts); operator regexes are checked at config load
// (src/util/safe-regex.ts: RE2 syntax, safe-regex2), matched in linear time by re2js, and only ever run on
// a field cut to MATCH_MAX characters.
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { outOfHoursDeploys } from '../../detectors/out-of-hours-deploys/index.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { compileGlob, globWork } from '../../src/util/glob.ts';
import { linearRegex, MATCH_MAX } from '../../src/util/safe-regex.ts';

/** The regex the globs used to compile to: the reference semantics the linear matcher must keep. */
function referenceRegExp(glob: string, flags = ''): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, `s${flags}`);
}

describe('compileGlob', () => {
  it('agrees with the backtracking regex it replaces, on random patterns and values', () => {
    const alphabet = fc.constantFrom('a', 'B', '-', '/', '*', '?', '.', 'p');
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 8 }).map((a) => a.join('')),
        fc
          .array(
            alphabet.filter((c) => c !== '*'),
            { maxLength: 12 },
          )
          .map((a) => a.join('')),
        fc.boolean(),
        (pattern, value, ignoreCase) => {
          const want = referenceRegExp(pattern, ignoreCase ? 'i' : '').test(value);
          expect(compileGlob(pattern, { ignoreCase }).test(value)).toBe(want);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('matches a 190 KB field against **-prod-**-eu with work linear in the field', () => {
    const g = compileGlob('**-prod-**-eu', { ignoreCase: true });
    const field = `${'-prod-'.repeat(32_000)}x`; // ~190 KB, almost matching everywhere
    expect(field.length).toBeGreaterThan(190_000);
    expect(g.test(field)).toBe(false);
    // Each input character visits at most (pattern tokens + 1) states: 12 tokens here.
    expect(globWork.steps).toBeLessThanOrEqual(field.length * 13);
    expect(g.test(`${field}-prod-a-eu`)).toBe(true);
  });
});

describe('out-of-hours-deploys on a hostile field', () => {
  afterEach(() => vi.restoreAllMocks());

  it('runs no regex on more than MATCH_MAX characters of a 190 KB environment or job name', () => {
    const config = outOfHoursDeploys.configSchema.parse({
      calendars: { eu: {} },
      routes: [{ calendar: 'eu', environments: ['**-prod-**-eu'] }],
      ignoreEnvironments: ['review/**-**-x'],
      emergency: { ticketPattern: '\\bCHG-\\d+\\b' },
    });
    const huge = `${'-prod-'.repeat(32_000)}x`;
    const event: PipewardenEvent = {
      '@timestamp': '2026-03-08T03:00:00.000Z', // a Sunday night
      message: huge,
      event: {
        id: 'e1',
        kind: 'event',
        category: ['process'],
        type: ['start'],
        action: `deployment.${huge}`,
        outcome: 'unknown',
        dataset: 'github.webhook',
        provider: 'github',
        ingested: '2026-03-08T03:00:00.000Z',
      },
      pipewarden: { kind: 'deploy', source: 'github', environment: huge, job: huge, repository: 'acme/api' },
    };
    const lengths: number[] = [];
    const test = RegExp.prototype.test;
    const exec = RegExp.prototype.exec;
    vi.spyOn(RegExp.prototype, 'test').mockImplementation(function (this: RegExp, s: string) {
      lengths.push(String(s).length);
      return test.call(this, s);
    });
    vi.spyOn(RegExp.prototype, 'exec').mockImplementation(function (this: RegExp, s: string) {
      lengths.push(String(s).length);
      return exec.call(this, s);
    });
    // Operator regexes run on re2js (linear time): what they are given is counted the same way.
    const matcher = RE2JS.prototype.matcher;
    vi.spyOn(RE2JS.prototype, 'matcher').mockImplementation(function (
      this: RE2JS,
      s: Parameters<RE2JS['matcher']>[0],
    ) {
      lengths.push(String(s).length);
      return matcher.call(this, s);
    });
    expect(outOfHoursDeploys.appliesTo(event, config)).toBe(true);
    const hit = outOfHoursDeploys.match?.(event, { config, now: new Date('2026-03-08T03:00:00Z') });
    vi.restoreAllMocks();
    expect(hit).toBeTruthy();
    expect(lengths.length).toBeGreaterThan(0);
    // MATCH_MAX per joined field: the emergency text joins four capped fields.
    expect(Math.max(...lengths)).toBeLessThanOrEqual(4 * MATCH_MAX + 3);
  });
});

describe('operator regexes are checked at config load', () => {
  const load = (detector: Record<string, unknown>) => () =>
    parseConfig({ detectors: { 'out-of-hours-deploys': detector } }, {});

  it.each([
    [{ emergency: { ticketPattern: '(a+)+$' } }, 'detectors.out-of-hours-deploys.emergency.ticketPattern'],
    [{ deployJobs: ['deploy', '(x+x+)+y'] }, 'detectors.out-of-hours-deploys.deployJobs.1'],
    [{ ignoreActions: ['^(\\w+\\s?)*$'] }, 'detectors.out-of-hours-deploys.ignoreActions.0'],
  ])('refuses %j with an error naming its path', (detector, path) => {
    expect(load(detector)).toThrow(new RegExp(`${path.replace(/\./g, '\\.')}: may take exponential time`));
  });

  it('accepts the documented examples', () => {
    expect(
      load({ emergency: { ticketPattern: '\\bCHG-\\d+\\b' }, deployJobs: ['deploy', '^asgard$'] }),
    ).not.toThrow();
  });
});

describe('operator regexes match in linear time', () => {
  const load = (detector: Record<string, unknown>) => () =>
    parseConfig({ detectors: { 'out-of-hours-deploys': detector } }, {});

  it.each([
    [
      { emergency: { ticketPattern: '(CHG)-\\d+-\\1' } },
      'detectors.out-of-hours-deploys.emergency.ticketPattern',
    ],
    [{ deployJobs: ['(?<=x)deploy'] }, 'detectors.out-of-hours-deploys.deployJobs.0'],
  ])('refuses %j (backreference, lookaround) with an error naming its path', (detector, path) => {
    expect(load(detector)).toThrow(
      new RegExp(`${path.replace(/\./g, '\\.')}: must be a regular expression RE2 accepts`),
    );
  });

  it('takes .*a.*b (no nested quantifier, polynomial when backtracking) and answers at once on a hostile field', () => {
    // The backtracking RegExp took 6.7 s for this on one 1,024-character field; `.*.*.*y` 35 s on 300.
    expect(load({ deployJobs: ['.*a.*b', '.*.*.*y'] })).not.toThrow();
    const field = 'a'.repeat(MATCH_MAX);
    const calls: number[] = [];
    const test = RegExp.prototype.test;
    const spy = vi.spyOn(RegExp.prototype, 'test').mockImplementation(function (this: RegExp, s: string) {
      calls.push(s.length);
      return test.call(this, s);
    });
    expect(linearRegex('.*a.*b', 'i').test(field)).toBe(false);
    expect(linearRegex('.*.*.*y').test(field)).toBe(false);
    expect(linearRegex('.*a.*b').test(`${field}b`)).toBe(true);
    expect(linearRegex('CHG-\\d+', 'i').match('fix chg-42 now')).toBe('chg-42');
    spy.mockRestore();
    expect(calls).toEqual([]); // no backtracking RegExp involved
  });
});
