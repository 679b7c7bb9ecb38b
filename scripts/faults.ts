// The fault table of issue 10, repeated under a bounded loopback load (`npm run faults`, not in CI).
// Distributed: one process per role (node src/cli.ts serve --role X) on the three-broker cluster of
// deploy/local/services.sh and the shared Elasticsearch node, reached through a loopback proxy that this
// script can cut (the shared node itself is never stopped). Embedded: one process, killed; and one on a
// tiny tmpfs that is filled up (needs root for mount; else that row says why it was left out).
// Each fault: GitHub-like webhooks (the sender never retries), the fault at one third of the load, healed
// at two thirds, then counted: accepted (202), indexed, alerted, lost (accepted, not indexed),
// duplicates (documents beyond distinct ids, and messages per sink beyond one per alert).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@elastic/elasticsearch';
import { SqliteStore } from '../src/store/sqlite.ts';
import { killBroker, leaderOf, startKafkaCluster, stopKafkaCluster } from '../test/support/kafka-cluster.ts';
import { sendLoad } from '../test/support/load.ts';
import { type SlackServer, startSlackServer } from '../test/support/slack-server.ts';
import { startSmtpServer, type TestSmtpServer } from '../test/support/smtp.ts';
import { startTcpProxy } from '../test/support/tcp-proxy.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECRET = 'faults-github-secret';
const SLACK_TOKEN = 'xoxb-faults';
const COUNT = Number(process.env.FAULTS_COUNT ?? 150);
const ALERT_EVERY = 25;
const ES_URL = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:19200';
const LOGS = process.env.FAULTS_LOGS ?? mkdtempSync(join(tmpdir(), 'pipewarden-faults-logs-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Row {
  fault: string;
  /** Accepted event ids, to count again at the end (an event indexed late is not lost). */
  ids?: Set<string>;
  sent: number;
  accepted: number;
  indexed: number;
  alerts: number;
  alerted: string;
  lost: number;
  duplicates: number;
  note?: string;
}

interface Proc {
  role: string;
  port: number;
  child?: ChildProcess;
  start(): Promise<void>;
  kill(): Promise<void>;
}

function proc(role: string, port: number, configFile: string, env: NodeJS.ProcessEnv): Proc {
  const p: Proc = {
    role,
    port,
    async start() {
      const args = ['src/cli.ts', 'serve', '--config', configFile, '--port', String(port)];
      if (role !== 'all') args.push('--role', role);
      // Each process's log, kept for a look after the run (FAULTS_LOGS, default a temp dir).
      const out = openSync(join(LOGS, `${role}-${port}.log`), 'a');
      const deadline = Date.now() + 120_000;
      // A process that exits while starting (a store request timing out on a loaded machine) is started
      // again, as a supervisor would, until the deadline: one slow answer must not end the whole table.
      for (let attempt = 1; ; attempt++) {
        const child = spawn(process.execPath, args, {
          cwd: ROOT,
          env: { ...process.env, ...env },
          stdio: ['ignore', out, out],
        });
        p.child = child;
        for (;;) {
          const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => r.ok,
            () => false,
          );
          if (ok) return;
          if (child.exitCode !== null) break;
          if (Date.now() > deadline) throw new Error(`${role} did not start`);
          await sleep(250);
        }
        if (Date.now() > deadline)
          throw new Error(`${role} exited with ${child.exitCode} (${attempt} starts)`);
        console.error(`${role} exited with ${child.exitCode} while starting; starting it again`);
        await sleep(1_000);
      }
    },
    async kill() {
      const c = p.child;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
  };
  return p;
}

async function stopGracefully(p: Proc): Promise<void> {
  const c = p.child;
  if (!c || c.exitCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await Promise.race([exited, sleep(30_000).then(() => c.kill('SIGKILL'))]);
}

const alertsPerSink = (slack: SlackServer, smtp: TestSmtpServer, from: { slack: number; mail: number }) => ({
  slack: slack.messages.length - from.slack,
  mail: smtp.messages.length - from.mail,
});

/** Waits until `indexed()` stops growing (or reaches `want`). */
async function settle(indexed: () => Promise<number>, want: number, maxMs = 180_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let last = -1;
  let stableSince = Date.now();
  for (;;) {
    const n = await indexed().catch(() => last);
    if (n >= want) return n;
    if (n !== last) {
      last = n;
      stableSince = Date.now();
    }
    if (Date.now() > deadline || Date.now() - stableSince > 45_000) return n;
    await sleep(1_000);
  }
}

async function distributed(rows: Row[]): Promise<void> {
  const brokers = await startKafkaCluster();
  const es = new Client({ node: ES_URL });
  const esUrl = new URL(ES_URL);
  const esProxy = await startTcpProxy({ host: esUrl.hostname, port: Number(esUrl.port) });
  const slack = await startSlackServer({ token: SLACK_TOKEN });
  const slackProxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(slack.url).port) });
  const smtp = await startSmtpServer();
  const smtpProxy = await startTcpProxy({ host: '127.0.0.1', port: smtp.port });
  const run = `flt${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), 'pipewarden-faults-'));
  const configFile = join(dir, 'config.json');
  const slackUrl = new URL(slack.url);
  slackUrl.port = String(slackProxy.port);
  writeFileSync(
    configFile,
    JSON.stringify({
      mode: 'distributed',
      server: { host: '127.0.0.1' },
      kafka: { brokers, replicationFactor: 3, partitions: 3 },
      elasticsearch: {
        node: `http://127.0.0.1:${esProxy.port}`,
        indexPrefix: `pw-${run}`,
        requestTimeoutMs: 5_000,
      },
      topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
      // The sender never retries: while the bus cannot take events, the spool does.
      ingest: { spool: { enabled: true, dir: join(dir, 'spool'), maxBytes: 256 * 1024 * 1024 } },
      log: { level: 'warn' },
      alerting: {
        attempts: 2,
        backoffMs: 200,
        redeliver: { schedule: '*/10 * * * * *' },
        slack: { enabled: true, channel: '#sec-alerts', apiUrl: slackUrl.toString(), minSeverity: 'low' },
        email: {
          enabled: true,
          host: '127.0.0.1',
          port: smtpProxy.port,
          requireTls: false,
          from: 'pipewarden@example.test',
          to: ['soc@example.test'],
          minSeverity: 'low',
        },
      },
    }),
  );
  const env = { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: SECRET, PIPEWARDEN_SLACK_TOKEN: SLACK_TOKEN };
  const base = 18600 + Math.floor(Math.random() * 200);
  const procs = Object.fromEntries(
    ['ingest', 'detect', 'alert', 'index'].map((r, i) => [r, proc(r, base + i, configFile, env)]),
  ) as Record<'ingest' | 'detect' | 'alert' | 'index', Proc>;
  for (const p of Object.values(procs)) await p.start();
  const events = `pw-${run}-events`;

  const countIds = async (ids: Set<string>) => {
    await es.indices.refresh({ index: events });
    const list = [...ids];
    let found = 0;
    let docs = 0;
    for (let i = 0; i < list.length; i += 500) {
      const res = await es.search<{ event: { id: string } }>({
        index: events,
        size: 1000,
        _source: ['event.id'],
        query: { terms: { 'event.id': list.slice(i, i + 500) } },
      });
      docs += res.hits.hits.length;
      found += new Set(res.hits.hits.map((h) => h._source!.event.id)).size;
    }
    return { found, docs };
  };
  const missing = async (ids: Set<string>) => {
    const found = new Set<string>();
    const list = [...ids];
    for (let i = 0; i < list.length; i += 500) {
      const res = await es.search<{ event: { id: string } }>({
        index: events,
        size: 1000,
        _source: ['event.id'],
        query: { terms: { 'event.id': list.slice(i, i + 500) } },
      });
      for (const h of res.hits.hits) found.add(h._source!.event.id);
    }
    return list.filter((id) => !found.has(id));
  };
  const alertsFor = async (ids: Set<string>) => {
    await es.indices.refresh({ index: `pw-${run}-alerts` });
    const res = await es.search<{ id: string; event_ids: string[]; status: string; incident_id?: string }>({
      index: `pw-${run}-alerts`,
      size: 1000,
      query: { terms: { event_ids: [...ids] } },
    });
    return res.hits.hits.map((h) => h._source!);
  };

  const faults: Array<{ name: string; inject: () => Promise<void>; heal: () => Promise<void> }> = [
    { name: 'none (baseline)', inject: async () => {}, heal: async () => {} },
    {
      name: 'broker leader killed (3 brokers)',
      inject: async () => killBroker(await leaderOf(brokers, `${run}.events`, 0)),
      heal: async () => void (await startKafkaCluster()),
    },
    ...(['ingest', 'detect', 'alert', 'index'] as const).map((role) => ({
      name: `${role} role killed`,
      inject: () => procs[role].kill(),
      heal: () => procs[role].start(),
    })),
    { name: 'Elasticsearch killed (proxy cut)', inject: () => esProxy.cut(), heal: () => esProxy.restore() },
    {
      name: 'Elasticsearch read-only',
      inject: async () =>
        void (await es.indices.putSettings({
          index: `pw-${run}-*,.ds-pw-${run}-*`,
          settings: { 'index.blocks.read_only_allow_delete': true },
        })),
      heal: async () =>
        void (await es.indices.putSettings({
          index: `pw-${run}-*,.ds-pw-${run}-*`,
          settings: { 'index.blocks.read_only_allow_delete': null },
        })),
    },
    { name: 'SMTP down', inject: () => smtpProxy.cut(), heal: () => smtpProxy.restore() },
    { name: 'Slack down', inject: () => slackProxy.cut(), heal: () => slackProxy.restore() },
  ];

  try {
    const first = rows.length;
    for (const [n, fault] of faults.entries()) {
      const before = { slack: slack.messages.length, mail: smtp.messages.length };
      let injected = false;
      let healed = false;
      const load = await sendLoad({
        url: `http://127.0.0.1:${procs.ingest.port}`,
        secret: SECRET,
        run: `${run}-f${n}`,
        count: COUNT,
        concurrency: 4,
        alertEvery: ALERT_EVERY,
        onProgress: async (sent) => {
          if (!injected && sent >= COUNT / 3) {
            injected = true;
            await fault.inject();
          }
          if (!healed && sent >= (2 * COUNT) / 3) {
            healed = true;
            await fault.heal();
          }
        },
      });
      if (!healed) await fault.heal();
      const indexed = await settle(async () => (await countIds(load.ids)).found, load.ids.size);
      const { docs } = await countIds(load.ids);
      // Alerts: one per accepted alerting webhook, delivered to both sinks; failed ones are redelivered.
      const deadline = Date.now() + 90_000;
      let alerts = await alertsFor(load.ids);
      while (Date.now() < deadline && alerts.some((a) => a.status !== 'delivered')) {
        await sleep(2_000);
        alerts = await alertsFor(load.ids);
      }
      await sleep(3_000);
      const sent = alertsPerSink(slack, smtp, before);
      const delivered = alerts.filter((a) => a.status === 'delivered').length;
      rows.push({
        fault: fault.name,
        ids: load.ids,
        sent: load.sent,
        accepted: load.accepted,
        indexed,
        alerts: alerts.length,
        alerted: `${delivered} (slack ${sent.slack}, email ${sent.mail})`,
        lost: load.ids.size - indexed,
        duplicates:
          docs - indexed + Math.max(0, sent.slack - alerts.length) + Math.max(0, sent.mail - alerts.length),
        ...(indexed < load.ids.size
          ? { note: `missing: ${(await missing(load.ids)).slice(0, 5).join(' ')}` }
          : {}),
      });
      console.log(JSON.stringify({ ...rows.at(-1), ids: undefined, refused: load.refused }));
    }
    // Final count, once everything has had time: lost means never indexed; each alert's messages are
    // found by its hit id (both sinks print it), so a late delivery counts for its own fault's row.
    await sleep(30_000);
    for (const r of rows.slice(first)) {
      if (!r.ids) continue;
      const { found, docs } = await countIds(r.ids);
      if (found > r.indexed) r.note = `${found - r.indexed} indexed after the settle window`;
      r.indexed = found;
      r.lost = r.ids.size - found;
      const alerts = await alertsFor(r.ids);
      let extra = 0;
      let unsent = 0;
      let slackSent = 0;
      let mailSent = 0;
      // Slack: one message (then edits) per hit; email: one message per incident (the first hit's), by design.
      const incidents = new Map<string, string[]>();
      for (const a of alerts) {
        const inSlack = slack.messages.filter((m) => JSON.stringify(m).includes(a.id)).length;
        slackSent += inSlack;
        extra += Math.max(0, inSlack - 1);
        unsent += inSlack === 0 ? 1 : 0;
        const key = a.incident_id ?? a.id;
        incidents.set(key, [...(incidents.get(key) ?? []), a.id]);
      }
      for (const hitIds of incidents.values()) {
        const inMail = smtp.messages.filter((m) => hitIds.some((id) => m.text.includes(id))).length;
        mailSent += inMail;
        extra += Math.max(0, inMail - 1);
        unsent += inMail === 0 ? 1 : 0;
      }
      r.alerts = alerts.length;
      r.alerted = `${alerts.filter((a) => a.status === 'delivered').length} (slack ${slackSent}, email ${mailSent} for ${incidents.size} incidents${unsent ? `, ${unsent} unsent` : ''})`;
      r.duplicates = docs - found + extra;
    }
  } finally {
    for (const p of Object.values(procs)) await stopGracefully(p);
    await Promise.allSettled([
      esProxy.close(),
      slackProxy.close(),
      smtpProxy.close(),
      slack.close(),
      smtp.close(),
    ]);
    await es.indices.delete({ index: `pw-${run}-*`, ignore_unavailable: true }).catch(() => {});
    await es.close();
    await stopKafkaCluster();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Embedded: the process killed, and a full disk (a tiny tmpfs filled up). */
async function embedded(rows: Row[]): Promise<void> {
  for (const fault of ['embedded killed', 'disk full'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'pipewarden-faults-emb-'));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    let mounted = false;
    if (fault === 'disk full') {
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', dataDir], { stdio: 'ignore' });
        mounted = true;
      } catch {
        rows.push({
          fault,
          sent: 0,
          accepted: 0,
          indexed: 0,
          alerts: 0,
          alerted: '-',
          lost: 0,
          duplicates: 0,
          note: 'left out: mounting a tmpfs needs root',
        });
        continue;
      }
    }
    const slack = await startSlackServer({ token: SLACK_TOKEN });
    const smtp = await startSmtpServer();
    const configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        mode: 'embedded',
        server: { host: '127.0.0.1' },
        embedded: { dataDir, minFreeMb: 1 },
        log: { level: 'warn' },
        alerting: {
          attempts: 2,
          backoffMs: 200,
          redeliver: { schedule: '*/10 * * * * *' },
          slack: { enabled: true, channel: '#sec-alerts', apiUrl: slack.url, minSeverity: 'low' },
          email: {
            enabled: true,
            host: '127.0.0.1',
            port: smtp.port,
            requireTls: false,
            from: 'pipewarden@example.test',
            to: ['soc@example.test'],
            minSeverity: 'low',
          },
        },
      }),
    );
    const env = { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: SECRET, PIPEWARDEN_SLACK_TOKEN: SLACK_TOKEN };
    const p = proc('all', 18900 + Math.floor(Math.random() * 50), configFile, env);
    await p.start();
    const filler = join(dataDir, 'filler');
    let readyWhileFull: number | undefined;
    let injected = false;
    let healed = false;
    try {
      const load = await sendLoad({
        url: `http://127.0.0.1:${p.port}`,
        secret: SECRET,
        run: `emb${Date.now().toString(36)}`,
        count: COUNT,
        concurrency: 4,
        alertEvery: ALERT_EVERY,
        onProgress: async (sent) => {
          if (!injected && sent >= COUNT / 3) {
            injected = true;
            if (fault === 'embedded killed') await p.kill();
            else {
              // Fill the filesystem: dd stops at ENOSPC.
              try {
                execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M'], { stdio: 'ignore' });
              } catch {}
              readyWhileFull = (await fetch(`http://127.0.0.1:${p.port}/readyz`)).status;
            }
          }
          if (!healed && sent >= (2 * COUNT) / 3) {
            healed = true;
            if (fault === 'embedded killed') await p.start();
            else rmSync(filler, { force: true });
          }
        },
      });
      await sleep(15_000); // the embedded consumers catch up
      await stopGracefully(p);
      const store = new SqliteStore({ path: join(dataDir, 'store.sqlite') });
      await store.init();
      let indexed = 0;
      for (const id of load.ids) if (await store.getEvent(id)) indexed++;
      const alerts = (await store.searchAlerts({ size: 500 })).items.filter((a) =>
        a.event_ids.some((id) => load.ids.has(id)),
      );
      await store.close();
      rows.push({
        fault,
        sent: load.sent,
        accepted: load.accepted,
        indexed,
        alerts: alerts.length,
        alerted: `${alerts.filter((a) => a.status === 'delivered').length} (slack ${slack.messages.length}, email ${smtp.messages.length})`,
        lost: load.ids.size - indexed,
        // The store is keyed by event id (create-only): a document cannot be stored twice there.
        duplicates:
          Math.max(0, slack.messages.length - alerts.length) +
          Math.max(0, smtp.messages.length - alerts.length),
        ...(readyWhileFull !== undefined ? { note: `/readyz while full: ${readyWhileFull}` } : {}),
      });
      console.log(JSON.stringify({ ...rows.at(-1), refused: load.refused }));
    } finally {
      await stopGracefully(p);
      await slack.close();
      await smtp.close();
      if (mounted) execFileSync('umount', [dataDir]);
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

const rows: Row[] = [];
const only = process.argv[2];
if (only !== 'embedded') await distributed(rows);
if (only !== 'distributed') await embedded(rows);
console.log(`process logs: ${LOGS}`);
const header = [
  'fault',
  'sent',
  'accepted',
  'indexed',
  'alerts',
  'alerted',
  'lost',
  'duplicates',
  'note',
] as const;
console.log(`\n| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${header.map((h) => r[h] ?? '').join(' | ')} |`);
const bad = rows.filter((r) => r.lost > 0 || r.duplicates > 0);
process.exitCode = bad.length ? 1 : 0;
