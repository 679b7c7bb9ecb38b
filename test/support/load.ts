// A bounded loopback load of signed GitHub webhooks, for fault tests and the fault script: each request
// is a distinct delivery of a distinct body; the accepted event ids are collected so that loss and duplicates can be counted.
import { loadSample, rawBody, signGithub } from './samples.ts';

export interface LoadResult {
  sent: number;
  /** Requests answered 202 (after retries, when allowed). */
  accepted: number;
  /** Answers other than 202 seen on the way (a retrying sender sees them, then 202). */
  refused: Record<number, number>;
  /** Requests never accepted (no retries left). */
  failed: number;
  ids: Set<string>;
}

export interface LoadOptions {
  url: string;
  secret: string;
  run: string;
  /** Webhooks to send. */
  count: number;
  concurrency?: number;
  /** Every n-th webhook is one that raises an alert (a deleted branch protection rule); 0: none. */
  alertEvery?: number;
  /** A sender that retries a 503 for this long (GitHub does not: 0). */
  retryForMs?: number;
  /** Called after each accepted request with how many were sent so far (to inject a fault mid-load). */
  onProgress?: (sent: number) => Promise<void> | void;
}

const push = loadSample('github', 'push__default.json');
const pushBody = JSON.parse(rawBody(push)) as Record<string, unknown>;
const alerting = loadSample('github', 'branch_protection_rule__deleted.json');
const alertingBody = JSON.parse(rawBody(alerting)) as { rule: Record<string, unknown> };

/**
 * The i-th webhook of a run, distinct in its signed content: event ids come from it (a replayed body is one
 * event), so identical bodies would make every push one event and hide a lost one.
 */
function bodyOf(run: string, i: number, alert: boolean): string {
  const tag = `${run}-${i}`;
  if (alert) return JSON.stringify({ ...alertingBody, rule: { ...alertingBody.rule, name: `load ${tag}` } });
  const after = Buffer.from(tag).toString('hex').padStart(40, '0').slice(-40);
  return JSON.stringify({ ...pushBody, after });
}

export async function sendLoad(o: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { sent: 0, accepted: 0, refused: {}, failed: 0, ids: new Set() };
  let next = 0;
  const one = async (i: number) => {
    const alert = o.alertEvery ? i % o.alertEvery === o.alertEvery - 1 : false;
    const sample = alert ? alerting : push;
    const raw = bodyOf(o.run, i, alert);
    const headers = signGithub(sample, raw, o.secret, `${o.run}-${i}`);
    const deadline = Date.now() + (o.retryForMs ?? 0);
    for (;;) {
      let status = 0;
      let body: { ids?: string[] } = {};
      try {
        const res = await fetch(`${o.url}/ingest/github`, { method: 'POST', body: raw, headers });
        status = res.status;
        body = (await res.json().catch(() => ({}))) as { ids?: string[] };
      } catch {
        status = 0; // connection refused or reset
      }
      if (status === 202) {
        result.accepted++;
        for (const id of body.ids ?? []) result.ids.add(id);
        return;
      }
      result.refused[status] = (result.refused[status] ?? 0) + 1;
      if (Date.now() > deadline) {
        result.failed++;
        return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  // While a fault is injected or healed, every worker waits, so the load spans the whole fault.
  let gate: Promise<void> | undefined;
  const worker = async () => {
    while (next < o.count) {
      await gate;
      const i = next++;
      result.sent++;
      await one(i);
      const step = o.onProgress?.(result.sent);
      if (step) {
        // Joined to any step in progress, never replacing it: nobody runs on while a fault is being healed.
        const mine = Promise.all([gate, step]).then(() => {});
        gate = mine;
        await mine;
        if (gate === mine) gate = undefined;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 4 }, worker));
  return result;
}
