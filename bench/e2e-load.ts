// End to end at a fixed offered rate in distributed mode: each role in its own process (ingest, index,
// detect, alert) on the local Kafka and Elasticsearch; signed GitHub webhooks sent open-loop at
// BENCH_E2E_RATE per second over loopback. Measured: answers that were not 2xx, how long an alerting event
// takes from its 202 to the Slack message (the real @slack/web-api client of the alert role against the
// local Slack server of test/support), and how long a sampled event takes from its 202 to being found by
// id in Elasticsearch.
import { createHmac, randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { loadSample } from '../ingest-adapters/fixtures.ts';
import { startSlackServer } from '../test/support/slack-server.ts';
import {
  cpuSeconds,
  type RoleProcess,
  signedPush,
  sleep,
  startRole,
  takeSearchable,
  useServices,
  WEBHOOK_SECRET,
} from './dist-common.ts';
import { median, writeSection } from './report.ts';

const RATE = Number(process.env.BENCH_E2E_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_E2E_SECONDS ?? 15);
const ROUNDS = Number(process.env.BENCH_RUNS ?? 5);
const ALERT_EVERY = 50; // one webhook in 50 is a change that alerts (20 alerts/s at 1,000/s)
const SAMPLE_EVERY = 10; // one accepted event in 10 is looked up in Elasticsearch
const DRAIN_MS = 30_000; // after the load, how long an alert or a sampled event may still take
const SLACK_TOKEN = 'xoxb-bench-token';
const SOCKETS = 256; // the sender's connection pool

const { esUrl, brokers } = useServices();
const run = `pfe2e${Date.now().toString(36)}`;
const slack = await startSlackServer({ token: SLACK_TOKEN });
const extra = {
  log: { level: 'warn' },
  // The bench is one client address standing for many senders: the per-client cap on signed bodies not yet
  // checked (32 by default, answered 429 with the connection closed) would count them all as one.
  server: { limits: { maxUnauthenticatedPerClient: 4096, maxUnauthenticated: 4096 } },
  elasticsearch: { node: esUrl, indexPrefix: `pw-${run}` },
  alerting: {
    slack: { enabled: true, channel: '#sec-alerts', apiUrl: slack.url, minSeverity: 'low' },
    // Every alert of the run goes out: no budget (a digest would hold them) and one incident per change.
    throttle: { enabled: false },
  },
};
const roles: Record<string, RoleProcess> = {};
for (const role of ['alert', 'detect', 'index', 'ingest'])
  roles[role] = await startRole(run, [role], { extra, env: { BENCH_LOG_LEVEL: 'warn' } });
const ingestUrl = new URL(`${roles.ingest!.url}/ingest/github`);
// node:http with a pool of kept-alive sockets, as a sender's HTTP client has: requests beyond the pool wait
// for a socket (their wait counts in the latencies); fetch opened a socket per request in flight, and at
// thousands of them the loopback backlog overflowed into resets and connect timeouts.
const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS });
function post(body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(ingestUrl, { method: 'POST', agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
const es = new Client({ node: esUrl });

// Where an alert's time goes, per stage (wall clock, one machine): its 202 → the detect role's evaluation
// (the hit's detected_at) → the hit on the hits topic (its LogAppendTime, read by a consumer of the bench's
// own) → the alert role's Slack send (the alert record's deliveries.slack.at) → the Slack server.
const hitAppended = new Map<string, number>(); // tag → when the hit was appended to the hits topic
const hitConsumer = new Kafka({ clientId: `${run}-bench`, brokers, logLevel: logLevel.NOTHING }).consumer({
  groupId: `${run}-bench-hits`,
});
await hitConsumer.connect();
await hitConsumer.subscribe({ topics: [`${run}.hits`], fromBeginning: true });
await hitConsumer.run({
  eachMessage: async ({ message }) => {
    for (const tag of message.value?.toString('utf8').match(/pwa\d+x\d+y/g) ?? [])
      if (!hitAppended.has(tag)) hitAppended.set(tag, Number(message.timestamp));
  },
});
/** tag → the alert record's detected_at and Slack send time (ms since epoch). */
async function alertRecords(): Promise<Map<string, { detected: number; sent?: number }>> {
  const out = new Map<string, { detected: number; sent?: number }>();
  await es.indices.refresh({ index: `pw-${run}-alerts` }, { ignore: [404] });
  const res = await es.search<{
    repository?: string;
    detected_at: string;
    deliveries?: { slack?: { at?: string } };
  }>({ index: `pw-${run}-alerts`, size: 10_000, query: { match_all: {} } }, { ignore: [404] });
  for (const h of res.hits?.hits ?? []) {
    const a = h._source;
    const tag = a?.repository?.match(/pwa\d+x\d+y/)?.[0];
    if (!a || !tag) continue;
    const sent = a.deliveries?.slack?.at;
    out.set(tag, { detected: Date.parse(a.detected_at), ...(sent ? { sent: Date.parse(sent) } : {}) });
  }
  return out;
}
const wall = (perfMs: number) => performance.timeOrigin + perfMs;

// An alerting change: a deleted branch protection rule (pipeline-weakening), each on its own repository.
const protection = loadSample('github', 'branch_protection_rule__deleted.json').body as {
  repository: Record<string, unknown>;
};
function alertingBody(n: number, tag: string): string {
  return JSON.stringify({
    ...protection,
    repository: { ...protection.repository, name: tag, full_name: `octo-org/${tag}` },
    test_occurrence: `${run}-${n}`,
  });
}

interface RoundResult {
  sent: number;
  accepted: number;
  non2xx: number;
  alertMs: number[]; // per alerting webhook; Infinity when not in Slack within the drain
  searchMs: number[]; // per sampled event; Infinity when not found within the drain
  cpuUs: Record<string, number>; // per role process, CPU µs per accepted event
  offered: number; // achieved send rate
  load: number; // 1-minute load average when the round started
  /** Per alert, ms in each stage: 202 → detected, detected → on the hits topic, hits topic → Slack send, → Slack. */
  stages: { detect: number[]; publish: number[]; alert: number[]; slack: number[] };
  statuses: Map<string, number>; // what the non-2xx were
}

async function round(r: number): Promise<RoundResult> {
  const load = loadavg()[0]!;
  const cpu0 = Object.fromEntries(Object.entries(roles).map(([k, p]) => [k, cpuSeconds(p.pid)]));
  const alertAccepted = new Map<string, number>(); // tag → when its 202 came
  const alertSeen = new Map<string, number>(); // tag → when Slack got it
  const pendingSearch = new Map<string, number>(); // event id → when its 202 came
  const searchMs: number[] = [];
  let sent = 0;
  let accepted = 0;
  let non2xx = 0;
  let inFlight = 0;
  const slackBefore = slack.messages.length;
  // Slack: scan new messages for the run's alert tags.
  const slackWatch = setInterval(() => watchSlack(), 20);
  let slackRead = slackBefore;
  function watchSlack() {
    const now = performance.now();
    for (; slackRead < slack.messages.length; slackRead++) {
      for (const tag of JSON.stringify(slack.messages[slackRead]).match(/pwa\d+x\d+y/g) ?? [])
        if (!alertSeen.has(tag)) alertSeen.set(tag, now);
    }
  }
  // Elasticsearch: look up the pending sampled ids together, every 100 ms.
  let searching = true;
  let drainEnd = Number.POSITIVE_INFINITY;
  const searcher = (async () => {
    while (searching || pendingSearch.size > 0) {
      try {
        await takeSearchable(es, `pw-${run}-events`, pendingSearch, searchMs, 2000);
      } catch {
        // not there yet (index not created): next time
      }
      if (!searching && performance.now() > drainEnd) break;
      await sleep(100);
    }
  })();

  // Bodies and signatures made before the clock starts: the sender only sends.
  const requests = Array.from({ length: RATE * SECONDS }, (_, n) => {
    const alerting = n % ALERT_EVERY === 0;
    const body = alerting ? alertingBody(n, `pwa${r}x${n}y`) : signedPush(n, `${run}-${r}`).body;
    return { body, signature: `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}` };
  });
  const statuses = new Map<string, number>();
  const send = async (n: number) => {
    const alerting = n % ALERT_EVERY === 0;
    const tag = `pwa${r}x${n}y`;
    const { body, signature } = requests[n]!;
    inFlight++;
    try {
      const res = await post(body, {
        'content-type': 'application/json',
        'x-github-event': alerting ? 'branch_protection_rule' : 'push',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': signature,
      });
      const now = performance.now();
      const { text } = res;
      if (res.status < 200 || res.status > 299) {
        non2xx++;
        const why = `${res.status} ${text.slice(0, 120)}`;
        statuses.set(why, (statuses.get(why) ?? 0) + 1);
        return;
      }
      accepted++;
      if (alerting) alertAccepted.set(tag, now);
      else if (n % SAMPLE_EVERY === 1) {
        const id = (JSON.parse(text) as { ids: string[] }).ids[0];
        if (id) pendingSearch.set(id, now);
      }
    } catch (err) {
      non2xx++;
      const why = `failed: ${(err as Error).message}`;
      statuses.set(why, (statuses.get(why) ?? 0) + 1);
    } finally {
      inFlight--;
    }
  };

  // Open loop: the schedule decides when each request goes, whatever the answers do.
  const start = performance.now();
  const total = RATE * SECONDS;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE));
    while (sent < due) void send(sent++);
    await sleep(5);
  }
  const offered = sent / ((performance.now() - start) / 1000);
  while (inFlight > 0) await sleep(20);
  const cpu = Object.fromEntries(
    Object.entries(roles).map(([k, p]) => [
      k,
      ((cpuSeconds(p.pid) - cpu0[k]!) / Math.max(accepted, 1)) * 1e6,
    ]),
  );
  drainEnd = performance.now() + DRAIN_MS;
  searching = false;
  while (performance.now() < drainEnd) {
    watchSlack();
    if (pendingSearch.size === 0 && [...alertAccepted.keys()].every((t) => alertSeen.has(t))) break;
    await sleep(100);
  }
  await searcher;
  clearInterval(slackWatch);
  const alertMs = [...alertAccepted].map(([tag, at]) => {
    const seen = alertSeen.get(tag);
    return seen === undefined ? Number.POSITIVE_INFINITY : Math.max(0, seen - at);
  });
  for (const _ of pendingSearch) searchMs.push(Number.POSITIVE_INFINITY);
  const records = await alertRecords();
  const stages: RoundResult['stages'] = { detect: [], publish: [], alert: [], slack: [] };
  for (const [tag, at] of alertAccepted) {
    const rec = records.get(tag);
    const appended = hitAppended.get(tag);
    const seen = alertSeen.get(tag);
    if (!rec || appended === undefined || rec.sent === undefined || seen === undefined) continue;
    stages.detect.push(rec.detected - wall(at));
    stages.publish.push(appended - rec.detected);
    stages.alert.push(rec.sent - appended);
    stages.slack.push(wall(seen) - rec.sent);
  }
  if (statuses.size) process.stderr.write(`round ${r} non-2xx: ${JSON.stringify([...statuses])}\n`);
  return { sent, accepted, non2xx, alertMs, searchMs, cpuUs: cpu, offered, load, statuses, stages };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : Number.NaN;
}
const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x)}` : `> ${DRAIN_MS / 1000} s`);
const stageText = (xs: number[]) => `${ms(pct(xs, 50))}/${ms(pct(xs, 99))}`;
const stagesOf = (r: RoundResult) =>
  (['detect', 'publish', 'alert', 'slack'] as const).map((k) => stageText(r.stages[k])).join(' · ');

const results: RoundResult[] = [];
try {
  process.stderr.write('e2e-load: warm-up\n');
  await round(0); // JIT, connections, topic metadata, the data stream's creation
  for (let r = 1; r <= ROUNDS; r++) {
    const res = await round(r);
    results.push(res);
    process.stderr.write(
      `round ${r} (load ${res.load.toFixed(1)}): sent ${res.sent} (${res.offered.toFixed(0)}/s), non-2xx ${res.non2xx}, alert p50/p99 ${ms(pct(res.alertMs, 50))}/${ms(pct(res.alertMs, 99))} ms (${res.alertMs.length}), searchable p50/p99 ${ms(pct(res.searchMs, 50))}/${ms(pct(res.searchMs, 99))} ms (${res.searchMs.length}); stages p50/p99 ms detect · publish · alert · slack ${stagesOf(res)} (${res.stages.alert.length})\n`,
    );
  }
} finally {
  await Promise.all(Object.values(roles).map((p) => p.stop()));
  await hitConsumer.disconnect();
  await slack.close();
  await es.close();
}

const rows = results
  .map(
    (r, i) =>
      `| ${i + 1} (load ${r.load.toFixed(1)}) | ${r.sent} (${r.offered.toFixed(0)}/s) | ${r.non2xx} | ${ms(pct(r.alertMs, 50))} | ${ms(pct(r.alertMs, 99))} | ${r.alertMs.length} | ${ms(pct(r.searchMs, 50))} | ${ms(pct(r.searchMs, 99))} | ${r.searchMs.length} | ${['ingest', 'index', 'detect', 'alert'].map((k) => r.cpuUs[k]!.toFixed(0)).join(' / ')} | ${stagesOf(r)} |`,
  )
  .join('\n');
const medianOf = (f: (r: RoundResult) => number) => median(results.map(f));
const reasons = new Map<string, number>();
for (const r of results) for (const [k, n] of r.statuses) reasons.set(k, (reasons.get(k) ?? 0) + n);
const allAlerts = results.flatMap((r) => r.alertMs);
const allSearch = results.flatMap((r) => r.searchMs);
writeSection(
  'End to end at 1,000 events/s (distributed)',
  `Method: \`node bench/e2e-load.ts\` (part of \`npm run bench\`; 2 shared cores, load average ${loadavg()[0]!.toFixed(1)} at the end; date ${new Date().toISOString().slice(0, 10)}).
Four processes, one role each (\`bench/dist-role.ts\`: ingest, index, detect, alert), on the local Kafka (3 partitions) and
Elasticsearch; the alert role sends to the local Slack Web API server of test/support through the real \`@slack/web-api\` client
(throttle off, so no alert waits for a digest). The ingest role's caps on signed bodies not yet checked are raised to 4,096
(\`server.limits.maxUnauthenticatedPerClient\`, 32 by default): the bench is one client address standing for many senders. The bench process sends signed GitHub webhooks **open-loop** at ${RATE} per second
(each request is issued on schedule whatever the answers do, over a pool of ${SOCKETS} kept-alive connections, where it may wait for a free one) for ${SECONDS} s per round, ${ROUNDS} rounds after a warm-up round: real
\`push\` samples made distinct (6.5 KB), and one in ${ALERT_EVERY} a \`branch_protection_rule\` \`deleted\` on a repository of its
own (the pipeline-weakening detector alerts on each). Measured per round:

- **non-2xx**: answers other than 2xx, and requests that failed (goal 0);
- **alert latency**: from the 202 of an alerting webhook to its Slack message arriving at the local server (goal p99 < 1 s);
- **searchable latency**: for one accepted push in ${SAMPLE_EVERY}, from its 202 to Elasticsearch finding it by id (an \`ids\` search
  on the events data stream, every 100 ms for all pending ids together, so up to ~100 ms of polling is included; Elasticsearch's
  1 s refresh interval is part of it; goal p99 < 2 s);
- **CPU µs per event** of each role's process over the load (/proc user + system, per accepted webhook);
- **stages** of each alert, p50/p99 (wall clock, one machine): *detect*, from the 202 to the detect role's evaluation (the
  hit's \`detected_at\`; can be below 0: the bench may read its 202 after the detect role saw the event); *publish*, from
  there to the hit on the hits topic (its broker append time, read by a consumer of the bench's own); *alert*, from there to
  the alert role's Slack send (the alert record's \`deliveries.slack.at\`): waiting for the consumer and the handling, store
  round trips included; *slack*, from there to the local Slack server's receipt (in the bench process, which is busy sending).

After the load, up to ${DRAIN_MS / 1000} s are allowed for the last alerts and events; one not there by then counts as "> ${DRAIN_MS / 1000} s".
The machine is shared with other jobs (load average above): latencies here include waiting for a core.

| round | sent (achieved rate) | non-2xx | alert p50 ms | alert p99 ms | alerts | searchable p50 ms | searchable p99 ms | sampled | CPU µs/event ingest / index / detect / alert | stages p50/p99 ms: detect · publish · alert · slack |
|---|---|---|---|---|---|---|---|---|---|---|
${rows}

Medians of the rounds: non-2xx ${medianOf((r) => r.non2xx)}, alert p99 ${ms(medianOf((r) => pct(r.alertMs, 99)))} ms, searchable p99 ${ms(medianOf((r) => pct(r.searchMs, 99)))} ms.
What the non-2xx were: ${reasons.size ? [...reasons].map(([k, n]) => `${n} × \`${k.replace(/`/g, "'")}\``).join('; ') : 'none'}.
All rounds together: ${results.reduce((a, r) => a + r.non2xx, 0)} non-2xx of ${results.reduce((a, r) => a + r.sent, 0)}; alert p99 ${ms(pct(allAlerts, 99))} ms over ${allAlerts.length} alerts; searchable p99 ${ms(pct(allSearch, 99))} ms over ${allSearch.length} events.
`,
);
process.stderr.write('Wrote the e2e-load section of BENCHMARKS.md\n');
