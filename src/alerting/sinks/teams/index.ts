// Microsoft Teams sink: a Workflows webhook ("Post to a channel when a webhook request is received") with
// an Adaptive Card attachment. A pure renderer and a thin sender (STYLE.md). Every value from an event is
// plain TextBlock text (Adaptive Cards render a Markdown subset: it is escaped).
import { z } from 'zod';
import { secretRef } from '../../../config/secrets.ts';
import { postJson } from '../../http-post.ts';
import { type Hit, SEVERITIES, type Severity, type Sink, type SinkDefinition } from '../../types.ts';

export const TEAMS_WEBHOOK_URL_ENV = 'PIPEWARDEN_TEAMS_WEBHOOK_URL';

export const teamsSinkConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** The workflow's HTTP POST URL: it carries its own signature (sig=...), so it is a secret. */
    urlEnv: secretRef(TEAMS_WEBHOOK_URL_ENV),
    minSeverity: z.enum(SEVERITIES).default('medium'),
    /** Route only these detectors' alerts here (ids); empty: every detector. */
    detectors: z.array(z.string().min(1)).default([]),
    /** pipewarden's API or console, linked from each card. */
    consoleUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  })
  .superRefine((c, ctx) => {
    if (c.enabled !== true) return;
    const url = c.urlEnv?.reveal();
    if (url === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['urlEnv'],
        message: `teams is enabled but no workflow URL was found: set $${TEAMS_WEBHOOK_URL_ENV} (or the variable named by urlEnv, or its _FILE twin)`,
      });
    else if (!/^https?:\/\//i.test(url))
      ctx.addIssue({ code: 'custom', path: ['urlEnv'], message: 'the workflow URL must be an http(s) URL' });
  });
export type TeamsSinkConfig = z.output<typeof teamsSinkConfigSchema>;

type Element = Record<string, unknown>;
export interface TeamsMessage {
  type: 'message';
  attachments: Array<{
    contentType: 'application/vnd.microsoft.card.adaptive';
    contentUrl: null;
    content: { $schema: string; type: 'AdaptiveCard'; version: string; body: Element[]; actions?: Element[] };
  }>;
}

const COLOR: Record<Severity, string> = {
  info: 'Default',
  low: 'Accent',
  medium: 'Warning',
  high: 'Attention',
  critical: 'Attention',
};

/** One line, and the Markdown Adaptive Cards understand made literal. */
export function teamsText(s: string): string {
  return (
    s
      .replace(/[\u0000-\u001f\u007f]+/g, ' ')
      .trim()
      // link brackets and emphasis: no text from an event becomes a link or formatting
      .replace(/([\\`*_[\]])/g, '\\$1')
      .slice(0, 2000)
  );
}

/** Pure: the Workflows webhook body for one hit. */
export function renderTeams(hit: Hit, options: { consoleUrl?: string } = {}): TeamsMessage {
  const facts: Array<[string, string | undefined]> = [
    ['Severity', hit.severity.toUpperCase()],
    ['Detector', hit.detector],
    ['Rule', hit.context.rule === undefined ? undefined : String(hit.context.rule)],
    ['Source', hit.source],
    ['Actor', hit.actor],
    ['Repository', hit.repository],
    ['Source IP', hit.source_ip],
    ['Time', hit['@timestamp']],
    [
      'Hits',
      hit.incident && hit.incident.count > 1
        ? `${hit.incident.count} (first ${hit.incident.first_at}, last ${hit.incident.last_at})`
        : undefined,
    ],
    ['Hit', hit.id],
  ];
  const actions: Element[] = [];
  if (/^https?:\/\//i.test(hit.runbook))
    actions.push({ type: 'Action.OpenUrl', title: 'Runbook', url: hit.runbook });
  if (hit.vendor_link)
    actions.push({
      type: 'Action.OpenUrl',
      title: hit.vendor_link.label.slice(0, 100),
      url: hit.vendor_link.url,
    });
  if (options.consoleUrl)
    actions.push({
      type: 'Action.OpenUrl',
      title: 'Alert and events',
      url: `${options.consoleUrl.replace(/\/$/, '')}/api/alerts/${encodeURIComponent(hit.id)}`,
    });
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            {
              type: 'TextBlock',
              text: teamsText(`[${hit.severity.toUpperCase()}] ${hit.title}`),
              weight: 'Bolder',
              size: 'Medium',
              color: COLOR[hit.severity],
              wrap: true,
            },
            { type: 'TextBlock', text: teamsText(hit.summary), wrap: true },
            {
              type: 'FactSet',
              facts: facts
                .filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '')
                .map(([title, value]) => ({ title, value: teamsText(value) })),
            },
          ],
          ...(actions.length ? { actions } : {}),
        },
      },
    ],
  };
}

export function createTeamsSink(config: TeamsSinkConfig): Sink<TeamsMessage> {
  const url = config.urlEnv;
  if (!url) throw new Error(`teams sink needs a workflow URL ($${TEAMS_WEBHOOK_URL_ENV})`);
  return {
    name: 'teams',
    minSeverity: config.minSeverity,
    detectors: config.detectors,
    render: (hit) => renderTeams(hit, config.consoleUrl ? { consoleUrl: config.consoleUrl } : {}),
    async send(message) {
      // Workflows answer 202 Accepted; the flow posts the card afterwards
      await postJson('teams', url.reveal(), message, config.timeoutMs);
    },
  };
}

export const teams = {
  id: 'teams' as const,
  title: 'Microsoft Teams',
  summary:
    'a Workflows webhook `POST` with an Adaptive Card: severity, detector, rule, actor, repository, source IP, time, hit count; runbook and console links',
  secretEnvs: [TEAMS_WEBHOOK_URL_ENV],
  configSchema: teamsSinkConfigSchema,
  create: createTeamsSink,
} satisfies SinkDefinition<TeamsSinkConfig>;
