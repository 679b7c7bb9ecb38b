// What every Jenkins plugin format reads into (a Parsed record), and the one event builder they share.
import {
  type EventKind,
  eventId,
  type Outcome,
  type PipewardenEvent,
  redactPayload,
} from '../../src/event.ts';
import { str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';

export interface Classified {
  kind: EventKind;
  category: string[];
  type: string[];
  action: string;
  outcome?: Outcome;
}

export interface Parsed extends Classified {
  user?: string; // undefined: anonymous or unknown
  anonymous?: boolean;
  ip?: string;
  job?: string;
  buildUrl?: string;
  node?: string;
  labels?: string[];
  at?: string; // ISO time stated by the record itself
  detail: Record<string, unknown>;
}

export const CONFIG = (action: string, type = ['change']): Classified => ({
  kind: 'config.change',
  category: ['configuration'],
  type,
  action,
});
export const IAM = (action: string, type = ['change']): Classified => ({
  kind: 'permission.change',
  category: ['iam'],
  type,
  action,
});
export const BUILD = (action: string, type = ['info'], outcome?: Outcome): Classified => ({
  kind: 'build',
  category: ['process'],
  type,
  action,
  ...(outcome ? { outcome } : {}),
});

/** ISO text of a millisecond time, or undefined when it is not a representable date. */
export function validTime(ms: number): string | undefined {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Percent-decoded, or as it is when it is not valid percent-encoding (a job named "100%"). */
export const safeDecode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

export const ANONYMOUS = new Set(['NA', 'anonymous', 'SYSTEM_ANONYMOUS']);

export function startedBy(causes: string): { user?: string; anonymous?: boolean } {
  const m = /Started by user ([^,]+)/.exec(causes);
  if (!m) return {};
  const name = m[1]!.trim();
  return ANONYMOUS.has(name) ? { anonymous: true } : { user: name };
}

export function buildOutcome(result: string | undefined): Outcome {
  if (!result) return 'unknown';
  if (result === 'SUCCESS') return 'success';
  if (['FAILURE', 'ABORTED', 'UNSTABLE', 'NOT_BUILT'].includes(result)) return 'failure';
  return 'unknown';
}

export function toEvent(
  parsed: Parsed,
  opts: {
    dataset: string;
    receivedAt: Date;
    at?: string;
    idParts: string[];
    original?: string;
    host?: string;
    transport: string;
  },
): PipewardenEvent {
  const at = parsed.at ?? opts.at ?? opts.receivedAt.toISOString();
  const who = parsed.user ?? (parsed.anonymous ? 'anonymous' : 'Jenkins');
  const what = parsed.job ? ` on ${parsed.job}` : '';
  const node = parsed.node ? ` (node ${parsed.node})` : '';
  const from = parsed.ip ? ` from ${parsed.ip}` : '';
  const pw: PipewardenEvent['pipewarden'] = {
    kind: parsed.kind,
    source: 'jenkins',
    raw: redactPayload({
      ...(opts.original !== undefined ? { line: opts.original.split('\n', 1)[0] } : {}),
      ...parsed.detail,
      ...(opts.host ? { host: opts.host } : {}),
      transport: opts.transport,
    }),
  };
  if (parsed.job) pw.job = parsed.job;
  if (parsed.buildUrl) pw.build_url = parsed.buildUrl;
  // Every Jenkins node (built-in or agent) is infrastructure the team runs itself.
  if (parsed.node) pw.runner = { name: parsed.node, labels: parsed.labels ?? [], self_hosted: true };
  const event = makeEvent({
    at: at,
    message: `${who} ${parsed.action.replace(/[._]/g, ' ')}${what}${node}${from}`,
    id: eventId('jenkins', ...opts.idParts),
    category: parsed.category,
    type: parsed.type,
    action: parsed.action,
    outcome: parsed.outcome ?? 'unknown',
    dataset: opts.dataset,
    provider: 'jenkins',
    receivedAt: opts.receivedAt,
    pipewarden: pw,
  });
  if (parsed.user) event.user = { name: parsed.user };
  if (parsed.ip) event.source = { ip: parsed.ip };
  return event;
}

/** Audit Trail's Elasticsearch logger writes "yyyy-MM-dd'T'HH:mm:ssZ" (zone without a colon). */
export function isoOf(v: unknown): string | undefined {
  const s = str(v);
  if (!s) return undefined;
  const t = Date.parse(s.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}
