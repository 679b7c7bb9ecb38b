// Flood budget and incident edits (alerting.throttle.edits): with `budget` (the default) an incident's later
// hits spend the budget and past it wait for the digest, like new alerts; with `quiet` they never spend it,
// and past it the Slack message is still edited (count, last time) but gets no thread reply. A new incident
// past the budget is held either way. The real @slack/web-api client against the local Slack server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Alerter } from '../../src/alerting/alerter.ts';
import { IncidentTracker } from '../../src/alerting/incidents.ts';
import { createSinks } from '../../src/alerting/sinks/index.ts';
import { throttleConfigSchema } from '../../src/alerting/throttle.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { type SlackServer, startSlackServer } from '../support/slack-server.ts';

let slack: SlackServer;
beforeAll(async () => {
  slack = await startSlackServer({ token: 'xoxb-flood' });
});
afterAll(async () => {
  await slack.close();
});

function hit(n: number, key: string): Hit {
  const at = new Date(Date.UTC(2026, 4, 1, 10, 0, n)).toISOString();
  return {
    id: `flood-${key}-${n}`,
    '@timestamp': at,
    detected_at: at,
    detector: 'failed-logins',
    title: 'Many failed logins',
    severity: 'high',
    summary: `${n} bursts for ${key}`,
    description: 'd',
    runbook: 'https://example.org/runbook',
    key,
    event_ids: [`e-${key}-${n}`],
    source: 'jenkins',
    context: { rule: 'brute-force' },
  };
}

async function run(edits: 'budget' | 'quiet') {
  const store = new SqliteStore({ path: ':memory:' });
  await store.init();
  const sinks = createSinks(
    parseConfig(
      { alerting: { slack: { enabled: true, channel: '#sec', apiUrl: slack.url, minSeverity: 'low' } } },
      { PIPEWARDEN_SLACK_TOKEN: 'xoxb-flood' },
    ).alerting,
  );
  const alerter = new Alerter(sinks, store, {
    attempts: 1,
    backoffMs: 0,
    throttle: throttleConfigSchema.parse({ maxPerWindow: 2, windowMinutes: 10, edits }),
    incidents: new IncidentTracker(store, {
      groupBy: ['detector', 'rule', 'key'],
      groupIntervalMs: 3_600_000,
      repeatIntervalMs: 3_600_000,
    }),
    log: createLogger({ level: 'silent' }),
    now: () => new Date('2026-05-01T10:01:00Z'),
  });
  const key = `${edits}-alice`;
  const before = { messages: slack.messages.length, updates: slack.updates.length };
  const records = [];
  for (let n = 1; n <= 4; n++) records.push(await alerter.handle(hit(n, key)));
  const other = await alerter.handle(hit(1, `${edits}-bob`)); // a new incident, past the budget
  await store.close();
  return {
    slack: records.map((r) => r.deliveries.slack!),
    other: other.deliveries.slack!,
    messages: slack.messages.slice(before.messages),
    updates: slack.updates.length - before.updates,
  };
}

describe('flood budget and incident edits', () => {
  it('budget (default): later hits spend the budget and past it are held for the digest', async () => {
    expect(throttleConfigSchema.parse({}).edits).toBe('budget');
    const r = await run('budget');
    expect(r.slack.map((d) => d.status)).toEqual(['sent', 'sent', 'held', 'held']);
    expect(r.other.status).toBe('held');
    expect(r.updates).toBe(1);
    expect(r.messages.map((m) => (m.thread_ts ? 'reply' : 'top'))).toEqual(['top', 'reply']);
  });

  it('quiet: later hits never spend the budget, so the next incident still goes out', async () => {
    const r = await run('quiet');
    expect(r.slack.map((d) => d.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect(r.slack.slice(1).every((d) => d.update)).toBe(true);
    // the first message spent 1 of 2: edits spend nothing, so hits 2-4 reply in the thread and the next
    // incident takes the second
    const kinds = r.messages.map((m) => (m.thread_ts ? 'reply' : 'top'));
    expect(kinds).toEqual(['top', 'reply', 'reply', 'reply', 'top']);
    expect(r.updates).toBe(3);
    expect(r.other.status).toBe('sent');
  });

  it('quiet: past the budget, edits keep the message current with no reply; new incidents are held', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.init();
    const sinks = createSinks(
      parseConfig(
        { alerting: { slack: { enabled: true, channel: '#sec', apiUrl: slack.url, minSeverity: 'low' } } },
        { PIPEWARDEN_SLACK_TOKEN: 'xoxb-flood' },
      ).alerting,
    );
    const alerter = new Alerter(sinks, store, {
      attempts: 1,
      backoffMs: 0,
      throttle: throttleConfigSchema.parse({ maxPerWindow: 2, edits: 'quiet' }),
      incidents: new IncidentTracker(store, {
        groupBy: ['detector', 'rule', 'key'],
        groupIntervalMs: 3_600_000,
        repeatIntervalMs: 3_600_000,
      }),
      log: createLogger({ level: 'silent' }),
      now: () => new Date('2026-05-01T10:01:00Z'),
    });
    const before = { messages: slack.messages.length, updates: slack.updates.length };
    await alerter.handle(hit(1, 'q-carol'));
    await alerter.handle(hit(1, 'q-dave')); // the budget (2) is spent
    const held = await alerter.handle(hit(1, 'q-erin'));
    expect(held.deliveries.slack!.status).toBe('held');
    const edit = await alerter.handle(hit(2, 'q-carol'));
    expect(edit.deliveries.slack).toMatchObject({
      status: 'sent',
      update: true,
      reason: expect.stringMatching(/no thread reply/),
    });
    expect(slack.updates.length - before.updates).toBe(1);
    expect(slack.messages.length - before.messages).toBe(2); // the two top messages, no reply
    const edited = slack.updates.at(-1)!;
    expect(JSON.stringify(edited.blocks)).toContain('*Hits*\\n2 (first');
    await store.close();
  });
});
