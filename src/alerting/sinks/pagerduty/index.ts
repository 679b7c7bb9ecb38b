// PagerDuty sink: Events API v2 (POST /v2/enqueue). The dedup_key is the incident id, so every hit of an
// incident (and every retry) lands on one PagerDuty incident; trigger, acknowledge and resolve follow the
// pipewarden incident's status. A pure renderer and a thin sender (STYLE.md).
import { z } from 'zod';
import { secretRef } from '../../../config/secrets.ts';
import { postJson } from '../../http-post.ts';
import { incidentKeyedSink } from '../../incident-keyed-sink.ts';
import { type Hit, SEVERITIES, type Severity, type Sink, type SinkDefinition } from '../../types.ts';

export const PAGERDUTY_ROUTING_KEY_ENV = 'PIPEWARDEN_PAGERDUTY_ROUTING_KEY';
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

export const pagerdutySinkConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** The integration key of an Events API v2 integration on the service to page. */
    routingKeyEnv: secretRef(PAGERDUTY_ROUTING_KEY_ENV),
    minSeverity: z.enum(SEVERITIES).default('high'),
    /** Route only these detectors' alerts here (ids); empty: every detector. */
    detectors: z.array(z.string().min(1)).default([]),
    /** The Events API endpoint (EU accounts: https://events.eu.pagerduty.com/v2/enqueue). */
    url: httpUrl.default('https://events.pagerduty.com/v2/enqueue'),
    /** pipewarden's API or console, linked from each event. */
    consoleUrl: httpUrl.optional(),
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  })
  .superRefine((c, ctx) => {
    if (c.enabled === true && c.routingKeyEnv === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['routingKeyEnv'],
        message: `pagerduty is enabled but no routing key was found: set $${PAGERDUTY_ROUTING_KEY_ENV} (or the variable named by routingKeyEnv, or its _FILE twin)`,
      });
  });
export type PagerdutySinkConfig = z.output<typeof pagerdutySinkConfigSchema>;

/** PagerDuty's four severities. */
const PD_SEVERITY: Record<Severity, 'critical' | 'error' | 'warning' | 'info'> = {
  critical: 'critical',
  high: 'error',
  medium: 'warning',
  low: 'info',
  info: 'info',
};

export interface PagerdutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: 'critical' | 'error' | 'warning' | 'info';
    timestamp: string;
    component?: string;
    group?: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
  client?: string;
  client_url?: string;
  links?: Array<{ href: string; text: string }>;
}

const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();

/** Pure: the Events API v2 body for a hit (the incident's id as dedup_key, its status as the action). */
export function renderPagerduty(
  hit: Hit,
  options: { routingKey: string; consoleUrl?: string },
): PagerdutyEvent {
  const inc = hit.incident;
  const dedup = inc?.id ?? hit.id;
  const action =
    inc?.status === 'resolved' ? 'resolve' : inc?.status === 'acknowledged' ? 'acknowledge' : 'trigger';
  // acknowledge and resolve carry only the key (the API ignores a payload on them)
  if (action !== 'trigger')
    return { routing_key: options.routingKey, event_action: action, dedup_key: dedup };
  const links: Array<{ href: string; text: string }> = [];
  if (/^https?:\/\//i.test(hit.runbook)) links.push({ href: hit.runbook, text: 'Runbook' });
  if (hit.vendor_link) links.push({ href: hit.vendor_link.url, text: oneLine(hit.vendor_link.label) });
  const alertUrl = options.consoleUrl
    ? `${options.consoleUrl.replace(/\/$/, '')}/api/alerts/${encodeURIComponent(hit.id)}`
    : undefined;
  if (alertUrl) links.push({ href: alertUrl, text: 'Alert and events in pipewarden' });
  return {
    routing_key: options.routingKey,
    event_action: 'trigger',
    dedup_key: dedup,
    payload: {
      summary: oneLine(`[${hit.severity.toUpperCase()}] ${hit.title}: ${hit.summary}`).slice(0, 1024),
      source: oneLine(hit.repository ?? hit.source).slice(0, 255),
      severity: PD_SEVERITY[hit.severity],
      timestamp: hit['@timestamp'],
      component: hit.source,
      group: hit.detector,
      class: String(hit.context.rule ?? hit.detector),
      custom_details: {
        hit_id: hit.id,
        key: hit.key,
        ...(hit.actor ? { actor: hit.actor } : {}),
        ...(hit.source_ip ? { source_ip: hit.source_ip } : {}),
        ...(inc ? { incident: inc.id, hits: inc.count, first_at: inc.first_at, last_at: inc.last_at } : {}),
        context: hit.context,
      },
    },
    client: 'pipewarden',
    ...(alertUrl ? { client_url: alertUrl } : {}),
    ...(links.length ? { links } : {}),
  };
}

export function createPagerdutySink(config: PagerdutySinkConfig): Sink<PagerdutyEvent> {
  const key = config.routingKeyEnv;
  if (!key) throw new Error(`pagerduty sink needs a routing key ($${PAGERDUTY_ROUTING_KEY_ENV})`);
  const render = (hit: Hit) =>
    renderPagerduty(hit, {
      routingKey: key.reveal(),
      ...(config.consoleUrl ? { consoleUrl: config.consoleUrl } : {}),
    });
  const send = async (event: PagerdutyEvent) => {
    // 202 {status: success, dedup_key}; the same dedup_key again is harmless, so retries are too
    await postJson('pagerduty', config.url, event, config.timeoutMs);
    return { dedup_key: event.dedup_key };
  };
  return incidentKeyedSink('pagerduty', config, render, send);
}

export const pagerduty = {
  id: 'pagerduty' as const,
  title: 'PagerDuty',
  summary:
    'Events API v2 `trigger` / `acknowledge` / `resolve` with the incident id as `dedup_key` (retries and repeats land on one PagerDuty incident)',
  secretEnvs: [PAGERDUTY_ROUTING_KEY_ENV],
  configSchema: pagerdutySinkConfigSchema,
  create: createPagerdutySink,
} satisfies SinkDefinition<PagerdutySinkConfig>;
