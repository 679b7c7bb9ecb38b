// The trail in a running embedded collector: events published on the bus are chained and signed by the
// index role; `pipewarden trail verify` and `trail key` work on its data; tampering with the SQLite file
// is caught by the scheduled check, which raises "audit trail tampered" through the alert path (email to a
// real SMTP server); retention removes whole segments and verification says where it starts.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/api/tokens.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Checkpoint } from '../../src/trail/types.ts';
import { verifyTrail } from '../../src/trail/verify.ts';
import { eventually } from '../support/app.ts';
import { loadSample, rawBody, signGithub } from '../support/samples.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { BASE, buildTrail, newKey, sqliteTamper, trailEvent } from '../support/trail.ts';

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

describe('trail in the embedded collector', () => {
  let smtp: TestSmtpServer;
  let app: RunningApp;
  let dataDir: string;
  let configFile: string;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    dataDir = mkdtempSync(join(tmpdir(), 'pipewarden-trail-e2e-'));
    const raw = {
      mode: 'embedded',
      embedded: { dataDir },
      log: { level: 'silent' },
      trail: {
        checkpoint: { everyEvents: 5 },
        anchors: { file: { enabled: true, path: join(dataDir, 'anchor.jsonl') } },
        verify: { schedule: '* * * * * *' }, // every second, for the test
      },
      alerting: {
        email: {
          enabled: true,
          host: smtp.host,
          port: smtp.port,
          requireTls: false,
          from: 'pipewarden@example.com',
          to: ['soc@example.com'],
        },
      },
    };
    configFile = join(dataDir, 'config.json');
    writeFileSync(configFile, JSON.stringify(raw));
    app = await startApp(parseConfig(raw, {}), { port: 0, log: createLogger({ level: 'silent' }) });
  });

  afterAll(async () => {
    await app?.stop();
    await smtp?.close();
  });

  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args, '--config', configFile], {
      encoding: 'utf8',
      timeout: 30_000,
    });

  it('chains and signs what the index role stores; the embedded key is generated once, 0600', async () => {
    const events = Array.from({ length: 12 }, (_, i) => trailEvent(i));
    const publish = (list: typeof events) =>
      app.bus.publish(
        app.config.topics.events,
        list.map((e) => ({ key: e.user!.name!, value: JSON.stringify(e) })),
      );
    // Two deliveries of six: each crosses everyEvents (5), so each ends a segment.
    await publish(events.slice(0, 6));
    await eventually(async () => (await app.store.trailCheckpoints(0)).length === 1);
    await publish(events.slice(6));
    const cps = await eventually(async () => {
      const c = await app.store.trailCheckpoints(0);
      return c.length === 2 && c;
    });
    expect(cps.map((c) => [c.n, c.fromSeq, c.toSeq, c.count])).toEqual([
      [1, 1, 6, 6],
      [2, 7, 12, 6],
    ]);
    expect(statSync(join(dataDir, 'trail-ed25519.pem')).mode & 0o777).toBe(0o600);
    // The anchor is written right after the store.
    const anchored = await eventually(async () => {
      const lines = readFileSync(join(dataDir, 'anchor.jsonl'), 'utf8').trim().split('\n');
      return lines.length === 2 && lines;
    });
    expect((JSON.parse(anchored[0]!) as Checkpoint).head).toBe(cps[0]!.head);
  });

  it('`trail key` prints the public key; `trail verify` passes on the clean trail', () => {
    const key = cli('trail', 'key');
    expect(key.status).toBe(0);
    expect(key.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    const ok = cli('trail', 'verify', '--anchor', join(dataDir, 'anchor.jsonl'));
    expect(ok.stdout).toMatch(/^OK: 12 events and 2 checkpoints in 1 partition\(s\)/);
    expect(ok.status).toBe(0);
  });

  it('an edited event fails `trail verify` (exit 1, id and offset) and raises a critical alert by email', async () => {
    expect(smtp.messages.filter((m) => m.subject.includes('audit trail tampered'))).toEqual([]);
    const target = trailEvent(3).event.id;
    await sqliteTamper(join(dataDir, 'store.sqlite')).edit(target, (d) => {
      d.user = { name: 'mallory' };
    });
    const bad = cli('trail', 'verify');
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/^FAILED:/);
    expect(bad.stdout).toContain(`modified: event ${target} at offset`);
    expect(bad.stdout).toContain(`[event ${target}] [partition 0 offset`);
    const mail = await eventually(
      async () => smtp.messages.find((m) => m.subject.includes('audit trail tampered')),
      20_000,
      'the tamper alert email',
    );
    expect(mail.subject).toMatch(/critical/i);
    expect(mail.text).toContain('modified');
    const alerts = await app.store.searchAlerts({ detector: 'audit-trail-tampered' });
    expect(alerts.items[0]).toMatchObject({ severity: 'critical', title: 'audit trail tampered' });
    expect(alerts.items[0]!.event_ids).toEqual([target]);
    // What the console's sources page reads: the last verification and the newest checkpoints.
    const { token } = await createToken(app.store, 'console');
    const res = await app.server.inject({
      method: 'GET',
      url: '/api/trail',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      verified: { ok: false, seen: { 0: 2 } },
      checkpoints: [{ partition: 0, n: 2 }],
    });
  });
});

describe('trail retention (embedded)', () => {
  it('deletes whole checkpoint segments only, and verification starts at the oldest retained one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pipewarden-trail-ret-'));
    const store = new SqliteStore({ path: join(dir, 'store.sqlite') });
    await store.init();
    const key = newKey();
    await buildTrail(store, key); // checkpoints signed at BASE + 1 h
    // Segments signed at BASE + 1 h, swept with a cutoff of BASE + 2 h: every full segment goes.
    const deleted = store.deleteEventsBefore(BASE + 2 * 3_600_000);
    expect(deleted).toBe(40);
    const r = await verifyTrail({ store, key, now: new Date(BASE + 3 * 3_600_000), retentionMs: 3_600_000 });
    expect(r.findings).toEqual([]);
    expect(r.notes).toContain('partition 0: every checkpointed segment is past retention');
    await store.close();

    // Retention that is not due yet leaves a deletion a deletion.
    const dir2 = mkdtempSync(join(tmpdir(), 'pipewarden-trail-ret-'));
    const s2 = new SqliteStore({ path: join(dir2, 'store.sqlite') });
    await s2.init();
    const p0 = await buildTrail(s2, key);
    expect(s2.deleteEventsBefore(BASE)).toBe(0);
    const tamper = sqliteTamper(join(dir2, 'store.sqlite'));
    for (const e of p0.slice(0, 10)) await tamper.remove(e.event.id);
    const young = await verifyTrail({
      store: s2,
      key,
      now: new Date(BASE + 7_200_000),
      retentionMs: 30 * 86_400_000,
    });
    expect(young.findings.map((f) => f.kind)).toEqual(['deleted']);
    // Past retention, the same first segment missing is retention: verification starts at checkpoint 2.
    const old = await verifyTrail({ store: s2, key, now: new Date(BASE + 7_200_000), retentionMs: 1_000 });
    expect(old.findings).toEqual([]);
    expect(old.notes).toContain(
      'partition 0: starting at checkpoint 2 (seq 11), the oldest retained; older segments were removed by retention',
    );
    await s2.close();
  });
});

describe('trail across a kill -9 (embedded collector, real process)', () => {
  it('verifies clean after the collector is killed mid-stream and restarted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-trail-kill-'));
    const file = join(dir, 'pipewarden.yaml');
    writeFileSync(
      file,
      `embedded:\n  dataDir: ${join(dir, 'data')}\nlog:\n  level: info\ntrail:\n  checkpoint:\n    everyEvents: 20\n`,
    );
    const sample = loadSample('github', 'push__default.json');
    const push = JSON.parse(rawBody(sample)) as Record<string, unknown>;
    // 120 distinct pushes (a replayed body is one event since ids come from the signed content).
    const post = (url: string, i: number) => {
      const raw = JSON.stringify({ ...push, after: i.toString(16).padStart(40, '0') });
      return fetch(`${url}/ingest/github`, {
        method: 'POST',
        body: raw,
        headers: signGithub(sample, raw, SECRET, `kill-${i}`),
      }).then((r) => r.status);
    };
    const first = await serve(file);
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push(await post(first.url, i));
    first.child.kill('SIGKILL'); // no drain, no commit: whatever was in flight is redelivered
    await new Promise((r) => first.child.once('exit', r));
    const second = await serve(file);
    for (let i = 60; i < 120; i++) statuses.push(await post(second.url, i));
    expect(statuses.every((s) => s === 202)).toBe(true);
    await eventually(
      async () => {
        const r = spawnSync(process.execPath, [CLI, 'trail', 'verify', '--config', file], {
          encoding: 'utf8',
        });
        return r.status === 0 && r.stdout.startsWith('OK: 120 events') && r;
      },
      30_000,
      'a clean trail of 120 events',
    );
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  }, 120_000); // two process starts and 120 signed requests on a shared machine
});

const SECRET = 'trail-kill-secret';

/** Starts `serve` and resolves with its URL once the "running" log line appears. */
async function serve(configFile: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile, '--port', '0'], {
    env: { PATH: process.env.PATH, PIPEWARDEN_GITHUB_WEBHOOK_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; address?: string };
      if (entry.msg === 'pipewarden is running.') resolve(entry.address!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
  });
  return { child, url };
}
