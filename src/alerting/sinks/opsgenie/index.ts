// Opsgenie sink: the Alerts API v2. Each incident is one Opsgenie alert whose alias is the incident id: the
// first hit creates it, later hits create again with the same alias (Opsgenie de-duplicates them into its
// count), and acknowledging or resolving the incident in pipewarden acknowledges or closes it there.
// A pure renderer and a thin sender (STYLE.md); the API key travels in the Authorization header only.
import { z } from 'zod';
import { secretRef } from '../../../config/secrets.ts';
import { postJson } from '../../http-post.ts';
import { incidentKeyedSink } from '../../incident-keyed-sink.ts';
import { type Hit, SEVERITIES, type Severity, type Sink, type SinkDefinition } from '../../types.ts';

export const OPSGENIE_API_KEY_ENV = 'PIPEWARDEN_OPSGENIE_API_KEY';
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

export const opsgenieSinkConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** An API integration's key (Settings → Integrations → API), with create and update rights. */
    apiKeyEnv: secretRef(OPSGENIE_API_KEY_ENV),
    minSeverity: z.enum(SEVERITIES).default('high'),
    /** Route only these detectors' alerts here (ids); empty: every detector. */
    detectors: z.array(z.string().min(1)).default([]),
    /** The API base (EU accounts: https://api.eu.opsgenie.com). */
    url: httpUrl.default('https://api.opsgenie.com'),
    /** Teams or users to notify, as Opsgenie names them (empty: the integration's own team). */
    responders: z
      .array(
        z.strictObject({
          type: z.enum(['team', 'user', 'escalation', 'schedule']),
          name: z.string().min(1).max(200),
        }),
      )
      .max(50)
      .default([]),
    /** Tags on every alert (the detector id and severity are added). */
    tags: z.array(z.string().min(1).max(50)).max(20).default([]),
    /** pipewarden's API or console, linked from each alert. */
    consoleUrl: httpUrl.optional(),
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  })
  .superRefine((c, ctx) => {
    if (c.enabled === true && c.apiKeyEnv === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['apiKeyEnv'],
        message: `opsgenie is enabled but no API key was found: set $${OPSGENIE_API_KEY_ENV} (or the variable named by apiKeyEnv, or its _FILE twin)`,
      });
  });
export type OpsgenieSinkConfig = z.output<typeof opsgenieSinkConfigSchema>;

const PRIORITY: Record<Severity, 'P1' | 'P2' | 'P3' | 'P4' | 'P5'> = {
  critical: 'P1',
  high: 'P2',
  medium: 'P3',
  low: 'P4',
  info: 'P5',
};

/** One request to the Alerts API: the path under the base and its body. */
export interface OpsgenieRequest {
  path: string;
  body: Record<string, unknown>;
}

const oneLine = (s: string, max: number) =>
  s
    .replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]+/g, ' ')
    .trim()
    .slice(0, max);

/** Pure: create (or, with the incident acknowledged or resolved, acknowledge / close) the incident's alert. */
export function renderOpsgenie(
  hit: Hit,
  options: { responders?: OpsgenieSinkConfig['responders']; tags?: string[]; consoleUrl?: string } = {},
): OpsgenieRequest {
  const inc = hit.incident;
  const alias = (inc?.id ?? hit.id).slice(0, 512);
  const who = inc?.status === 'resolved' ? inc.resolved_by : inc?.acknowledged_by;
  if (inc && inc.status !== 'open') {
    const verb = inc.status === 'resolved' ? 'close' : 'acknowledge';
    return {
      path: `/v2/alerts/${encodeURIComponent(alias)}/${verb}?identifierType=alias`,
      body: {
        source: 'pipewarden',
        ...(who ? { user: oneLine(who, 100) } : {}),
        note: oneLine(
          `${inc.status === 'resolved' ? 'Resolved' : 'Acknowledged'} in pipewarden${who ? ` by ${who}` : ''}`,
          25_000,
        ),
      },
    };
  }
  const alertUrl = options.consoleUrl
    ? `${options.consoleUrl.replace(/\/$/, '')}/api/alerts/${encodeURIComponent(hit.id)}`
    : undefined;
  const details: Record<string, string> = {
    detector: hit.detector,
    hit_id: hit.id,
    key: oneLine(hit.key, 1000),
    source: hit.source,
    ...(hit.actor ? { actor: oneLine(hit.actor, 1000) } : {}),
    ...(hit.repository ? { repository: oneLine(hit.repository, 1000) } : {}),
    ...(hit.source_ip ? { source_ip: hit.source_ip } : {}),
    ...(hit.context.rule !== undefined ? { rule: oneLine(String(hit.context.rule), 1000) } : {}),
    ...(inc
      ? { incident: inc.id, hits: String(inc.count), first_at: inc.first_at, last_at: inc.last_at }
      : {}),
    ...(/^https?:\/\//i.test(hit.runbook) ? { runbook: hit.runbook } : {}),
    ...(hit.vendor_link ? { vendor_link: hit.vendor_link.url } : {}),
    ...(alertUrl ? { pipewarden: alertUrl } : {}),
  };
  const description = [
    oneLine(hit.summary, 5_000),
    '',
    oneLine(hit.description, 5_000),
    ...(hit.vendor_link ? ['', `${oneLine(hit.vendor_link.label, 100)}: ${hit.vendor_link.url}`] : []),
    ...(alertUrl ? ['', `Alert and events in pipewarden: ${alertUrl}`] : []),
  ].join('\n');
  return {
    path: '/v2/alerts',
    body: {
      // Opsgenie's limits: message 130, alias 512, description 15000, entity 512, source 100, tags 20 × 50
      message: oneLine(`[${hit.severity.toUpperCase()}] ${hit.title}: ${hit.summary}`, 130),
      alias,
      description: description.slice(0, 15_000),
      ...(options.responders?.length ? { responders: options.responders } : {}),
      tags: [...new Set([...(options.tags ?? []), 'pipewarden', hit.detector, hit.severity])]
        .map((t) => oneLine(t, 50))
        .slice(0, 20),
      details,
      entity: oneLine(hit.repository ?? hit.key, 512),
      source: 'pipewarden',
      priority: PRIORITY[hit.severity],
    },
  };
}

export function createOpsgenieSink(config: OpsgenieSinkConfig): Sink<OpsgenieRequest> {
  const key = config.apiKeyEnv;
  if (!key) throw new Error(`opsgenie sink needs an API key ($${OPSGENIE_API_KEY_ENV})`);
  const base = config.url.replace(/\/+$/, '');
  const render = (hit: Hit) =>
    renderOpsgenie(hit, {
      responders: config.responders,
      tags: config.tags,
      ...(config.consoleUrl ? { consoleUrl: config.consoleUrl } : {}),
    });
  // 202 {result, took, requestId}: Opsgenie processes requests asynchronously; the same alias again is
  // de-duplicated into the open alert, so a retry is harmless
  const send = async (req: OpsgenieRequest) => {
    await postJson('opsgenie', `${base}${req.path}`, req.body, config.timeoutMs, {
      authorization: `GenieKey ${key.reveal()}`,
    });
    return { alias: String(req.body.alias ?? '') };
  };
  return incidentKeyedSink('opsgenie', config, render, send);
}

export const opsgenie = {
  id: 'opsgenie' as const,
  title: 'Opsgenie',
  summary:
    'Alerts API v2: create with the incident id as `alias` (repeats de-duplicate into one alert), then `acknowledge` / `close` as the incident is acknowledged or resolved',
  secretEnvs: [OPSGENIE_API_KEY_ENV],
  configSchema: opsgenieSinkConfigSchema,
  create: createOpsgenieSink,
} satisfies SinkDefinition<OpsgenieSinkConfig>;
