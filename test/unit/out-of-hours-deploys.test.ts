// Local wall time and calendar verdicts across daylight-saving changes, and the config's load-time errors.
// The detector's cases (run by detectors.test.ts through the engine) cover the same edges end to end.
import { describe, expect, it } from 'vitest';
import {
  assess,
  type Calendar,
  outOfHoursDeploys,
  wallTime,
} from '../../detectors/out-of-hours-deploys/index.ts';

const calendar = (c: Record<string, unknown>): Calendar =>
  (outOfHoursDeploys.configSchema.parse({ defaultCalendar: c }) as { defaultCalendar: Calendar })
    .defaultCalendar;

describe('out-of-hours-deploys', () => {
  describe('wallTime', () => {
    it('Europe/London fall-back: 01:30 happens twice on 2024-10-27 (BST, then GMT)', () => {
      expect(wallTime(new Date('2024-10-27T00:30:00Z'), 'Europe/London')).toEqual({
        date: '2024-10-27',
        time: '01:30',
        day: 'sun',
      });
      expect(wallTime(new Date('2024-10-27T01:30:00Z'), 'Europe/London')).toEqual({
        date: '2024-10-27',
        time: '01:30',
        day: 'sun',
      });
      expect(wallTime(new Date('2024-10-27T02:30:00Z'), 'Europe/London').time).toBe('02:30');
    });

    it('Europe/London spring-forward: 00:59Z is 00:59 GMT, 01:00Z is 02:00 BST (01:xx never happens)', () => {
      expect(wallTime(new Date('2024-03-31T00:59:00Z'), 'Europe/London').time).toBe('00:59');
      expect(wallTime(new Date('2024-03-31T01:00:00Z'), 'Europe/London').time).toBe('02:00');
    });

    it('America/New_York fall-back: 01:30 EDT (05:30Z) and 01:30 EST (06:30Z)', () => {
      expect(wallTime(new Date('2024-11-03T05:30:00Z'), 'America/New_York').time).toBe('01:30');
      expect(wallTime(new Date('2024-11-03T06:30:00Z'), 'America/New_York').time).toBe('01:30');
    });

    it('America/New_York spring-forward: 06:59Z is 01:59 EST, 07:00Z is 03:00 EDT', () => {
      expect(wallTime(new Date('2024-03-10T06:59:00Z'), 'America/New_York').time).toBe('01:59');
      expect(wallTime(new Date('2024-03-10T07:00:00Z'), 'America/New_York').time).toBe('03:00');
    });

    it('uses 00 for midnight, never 24', () => {
      expect(wallTime(new Date('2024-06-03T23:00:00Z'), 'Europe/London')).toEqual({
        date: '2024-06-04',
        time: '00:00',
        day: 'tue',
      });
    });

    it('crosses the date line with the zone (Pacific/Auckland is already Monday)', () => {
      expect(wallTime(new Date('2024-06-02T13:00:00Z'), 'Pacific/Auckland')).toEqual({
        date: '2024-06-03',
        time: '01:00',
        day: 'mon',
      });
    });
  });

  describe('assess', () => {
    const ny = calendar({ timeZone: 'America/New_York', hours: { start: '09:00', end: '17:00' } });

    it('09:00 EDT on the first Monday after spring-forward is working time; 08:59 is not', () => {
      expect(assess(new Date('2024-03-11T13:00:00Z'), ny).ok).toBe(true);
      expect(assess(new Date('2024-03-11T12:59:00Z'), ny)).toMatchObject({
        ok: false,
        reason: 'outside working hours',
      });
    });

    it('the end of the working day is exclusive', () => {
      expect(assess(new Date('2024-07-01T20:59:00Z'), ny).ok).toBe(true); // 16:59 EDT
      expect(assess(new Date('2024-07-01T21:00:00Z'), ny).ok).toBe(false); // 17:00 EDT
    });

    it('a local freeze window holds both 01:30s of the fall-back night; an ISO-instant window holds one', () => {
      const local = calendar({
        timeZone: 'America/New_York',
        freezes: [{ from: '2024-11-03T01:00', to: '2024-11-03T02:00' }],
      });
      expect(assess(new Date('2024-11-03T05:30:00Z'), local)).toMatchObject({ reason: 'freeze' });
      expect(assess(new Date('2024-11-03T06:30:00Z'), local)).toMatchObject({ reason: 'freeze' });
      const instant = calendar({
        timeZone: 'America/New_York',
        freezes: [{ from: '2024-11-03T01:00-04:00', to: '2024-11-03T02:00-04:00' }],
      });
      expect(assess(new Date('2024-11-03T05:30:00Z'), instant)).toMatchObject({ reason: 'freeze' });
      expect(assess(new Date('2024-11-03T06:30:00Z'), instant)).not.toMatchObject({ reason: 'freeze' });
    });

    it('holidays are local dates: 23:00Z on 24 December is already Christmas in Berlin', () => {
      const berlin = calendar({
        timeZone: 'Europe/Berlin',
        holidays: ['12-25'],
        workingDays: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
        hours: { start: '00:00', end: '24:00' },
      });
      expect(assess(new Date('2024-12-24T23:00:00Z'), berlin)).toMatchObject({ reason: 'holiday' });
      expect(assess(new Date('2024-12-24T22:59:00Z'), berlin).ok).toBe(true);
    });

    it('overnight working hours wrap past midnight', () => {
      const night = calendar({ hours: { start: '22:00', end: '06:00' } });
      expect(assess(new Date('2024-06-04T23:00:00Z'), night).ok).toBe(true);
      expect(assess(new Date('2024-06-04T12:00:00Z'), night).ok).toBe(false);
    });
  });

  describe('config', () => {
    it('parses with every section absent', () => {
      expect(outOfHoursDeploys.configSchema.parse(undefined)).toMatchObject({
        enabled: true,
        defaultCalendar: { timeZone: 'UTC', workingDays: ['mon', 'tue', 'wed', 'thu', 'fri'] },
      });
    });

    it('refuses an unknown time zone, a bad hour, a bad regex and a route to an unknown calendar, all at once', () => {
      const r = outOfHoursDeploys.configSchema.safeParse({
        defaultCalendar: { timeZone: 'Europe/Londn', hours: { start: '9am' } },
        emergency: { ticketPattern: '(' },
        routes: [{ calendar: 'nope' }],
      });
      expect(r.success).toBe(false);
      const paths = r.error!.issues.map((i) => i.path.join('.'));
      expect(paths).toEqual(
        expect.arrayContaining([
          'defaultCalendar.timeZone',
          'defaultCalendar.hours.start',
          'emergency.ticketPattern',
        ]),
      );
    });

    it('names an unknown calendar in a route', () => {
      const r = outOfHoursDeploys.configSchema.safeParse({ routes: [{ calendar: 'nope' }] });
      expect(r.success).toBe(false);
      expect(r.error!.issues[0]).toMatchObject({ path: ['routes', 0, 'calendar'] });
      expect(r.error!.issues[0]!.message).toMatch(/unknown calendar 'nope'/);
    });
  });
});
