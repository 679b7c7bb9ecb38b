// Jira sink: one issue per incident, through the REST API (v3 for Jira Cloud, v2 for Server / Data
// Center): created in the configured project with the configured issue type when the incident opens; later
// hits of the incident are counted in pipewarden, not filed again. The issue carries a label naming the
// incident, and before creating, the sink searches for it: a retry after a lost answer finds the issue it
// already made instead of filing a second one. A pure renderer and a thin sender (STYLE.md); the token
// travels in the Authorization header only.
import { z } from 'zod';
import { secretRef } from '../../../config/secrets.ts';
import { requestJson } from '../../http-post.ts';
import { type Hit, SEVERITIES, type Sink, type SinkDefinition, SinkError } from '../../types.ts';

export const JIRA_TOKEN_ENV = 'PIPEWARDEN_JIRA_TOKEN';
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

export const jiraSinkConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** The site (https://acme.atlassian.net) or the Server / Data Center base URL. */
    url: httpUrl.optional(),
    /** 3: Jira Cloud (descriptions in Atlassian Document Format); 2: Server / Data Center (wiki text). */
    apiVersion: z.union([z.literal(2), z.literal(3)]).default(3),
    /** Jira Cloud: the account's email, sent with the API token as Basic auth; absent: the token is a Bearer PAT. */
    user: z.string().min(3).max(200).optional(),
    /** An API token (Cloud) or a personal access token (Server / Data Center). */
    tokenEnv: secretRef(JIRA_TOKEN_ENV),
    /** The project key issues are created in (SEC). */
    project: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]{0,49}$/, 'a Jira project key: capital letters, digits, _ (SEC)')
      .optional(),
    /** The issue type's name in that project. */
    issueType: z.string().min(1).max(100).default('Task'),
    /** Labels on every issue (letters, digits, - _ .; the detector and the incident are added). */
    labels: z
      .array(z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'a Jira label: no spaces'))
      .max(20)
      .default(['pipewarden']),
    minSeverity: z.enum(SEVERITIES).default('high'),
    /** Route only these detectors' alerts here (ids); empty: every detector. */
    detectors: z.array(z.string().min(1)).default([]),
    /** pipewarden's API or console, linked from each issue. */
    consoleUrl: httpUrl.optional(),
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  })
  .superRefine((c, ctx) => {
    if (c.enabled !== true) return;
    if (!c.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when jira is enabled' });
    if (!c.project)
      ctx.addIssue({ code: 'custom', path: ['project'], message: 'required when jira is enabled' });
    if (c.tokenEnv === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['tokenEnv'],
        message: `jira is enabled but no API token was found: set $${JIRA_TOKEN_ENV} (or the variable named by tokenEnv, or its _FILE twin)`,
      });
  });
export type JiraSinkConfig = z.output<typeof jiraSinkConfigSchema>;

/** The create-issue request, and the label that finds the issue again. */
export interface JiraIssue {
  label: string;
  body: { fields: Record<string, unknown> };
}

const flat = (s: string, max: number) =>
  s
    .replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]+/g, ' ')
    .trim()
    .slice(0, max);

/** The label that names the incident (Jira labels: no spaces, at most 255 characters). */
export function incidentLabel(hit: Hit): string {
  return `pipewarden-${(hit.incident?.id ?? hit.id).replace(/[^A-Za-z0-9_.-]/g, '_')}`.slice(0, 255);
}

type Adf = Record<string, unknown>;
const text = (t: string, href?: string): Adf => ({
  type: 'text',
  text: t,
  ...(href ? { marks: [{ type: 'link', attrs: { href } }] } : {}),
});
const para = (...content: Adf[]): Adf => ({ type: 'paragraph', content });

/** Pure: the issue for an incident's first hit. Every vendor value is plain text (ADF text nodes, or v2 {noformat}). */
export function renderJira(
  hit: Hit,
  options: { project: string; issueType: string; labels: string[]; apiVersion: 2 | 3; consoleUrl?: string },
): JiraIssue {
  const label = incidentLabel(hit);
  const alertUrl = options.consoleUrl
    ? `${options.consoleUrl.replace(/\/$/, '')}/api/alerts/${encodeURIComponent(hit.id)}`
    : undefined;
  const facts: Array<[string, string | undefined]> = [
    ['Severity', hit.severity],
    ['Detector', hit.detector],
    ['Rule', hit.context.rule === undefined ? undefined : String(hit.context.rule)],
    ['Source', hit.source],
    ['Actor', hit.actor],
    ['Repository', hit.repository],
    ['Source IP', hit.source_ip],
    ['Time', hit['@timestamp']],
    ['Incident', hit.incident?.id],
    ['Hit', hit.id],
  ];
  const lines = facts.filter((f): f is [string, string] => !!f[1]).map(([k, v]) => `${k}: ${flat(v, 1000)}`);
  const links: Array<[string, string]> = [
    ...(/^https?:\/\//i.test(hit.runbook) ? [['Runbook', hit.runbook] as [string, string]] : []),
    ...(hit.vendor_link ? [[flat(hit.vendor_link.label, 100), hit.vendor_link.url] as [string, string]] : []),
    ...(alertUrl ? [['Alert and events in pipewarden', alertUrl] as [string, string]] : []),
  ];
  let description: unknown;
  if (options.apiVersion === 3) {
    description = {
      type: 'doc',
      version: 1,
      content: [
        para(text(flat(hit.summary, 5000))),
        para(text(lines.join('\n'))),
        ...links.map(([name, url]) => para(text(`${name}: `), text(url, url))),
      ],
    };
  } else {
    // wiki markup: vendor text goes in a {noformat} block it cannot close (braces made round)
    const safe = (s: string) => s.replace(/\{/g, '(').replace(/\}/g, ')');
    description = [
      '{noformat}',
      safe(flat(hit.summary, 5000)),
      '',
      ...lines.map(safe),
      '{noformat}',
      ...links.map(
        ([name, url]) =>
          `${safe(name).replace(/[[\]|]/g, ' ')}: [${url.replace(/[[\]|]/g, encodeURIComponent)}]`,
      ),
    ].join('\n');
  }
  return {
    label,
    body: {
      fields: {
        project: { key: options.project },
        issuetype: { name: options.issueType },
        summary: flat(`[${hit.severity.toUpperCase()}] ${hit.title}: ${hit.summary}`, 255),
        description,
        labels: [...new Set([...options.labels, label, `pipewarden-${hit.detector}`.slice(0, 255)])],
      },
    },
  };
}

export function createJiraSink(config: JiraSinkConfig): Sink<JiraIssue> {
  const { url, project, tokenEnv: token } = config;
  if (!url || !project || !token)
    throw new Error(`jira sink needs url, project and a token ($${JIRA_TOKEN_ENV})`);
  const api = `${url.replace(/\/+$/, '')}/rest/api/${config.apiVersion}`;
  const auth = () =>
    config.user
      ? `Basic ${Buffer.from(`${config.user}:${token.reveal()}`).toString('base64')}`
      : `Bearer ${token.reveal()}`;
  // Cloud retired GET /rest/api/3/search for /search/jql; Server / Data Center has /rest/api/2/search
  const searchPath = config.apiVersion === 3 ? '/search/jql' : '/search';
  return {
    name: 'jira',
    minSeverity: config.minSeverity,
    detectors: config.detectors,
    render: (hit) =>
      renderJira(hit, {
        project,
        issueType: config.issueType,
        labels: config.labels,
        apiVersion: config.apiVersion,
        ...(config.consoleUrl ? { consoleUrl: config.consoleUrl } : {}),
      }),
    async send(issue) {
      const headers = { authorization: auth() };
      const jql = `project = "${project}" AND labels = "${issue.label}"`;
      const found = await requestJson('jira', {
        method: 'GET',
        url: `${api}${searchPath}?${new URLSearchParams({ jql, maxResults: '1', fields: 'key' })}`,
        timeoutMs: config.timeoutMs,
        headers,
      });
      const existing = parseKey(found.text, 'issues');
      if (existing) return { key: existing };
      // 201 {id, key, self}
      const created = await requestJson('jira', {
        method: 'POST',
        url: `${api}/issue`,
        body: issue.body,
        timeoutMs: config.timeoutMs,
        headers,
      });
      const key = parseKey(created.text);
      if (!key) throw new SinkError('jira: the answer to create issue named no issue key', false);
      return { key };
    },
    // once per incident: later hits are counted in pipewarden, the issue is not filed or edited again
    async update() {},
  };
}

/** The issue key in a create answer ({ key }) or the first of a search answer ({ issues: [{ key }] }). */
function parseKey(text: string, list?: 'issues'): string | undefined {
  try {
    const v = JSON.parse(text) as { key?: unknown; issues?: Array<{ key?: unknown }> };
    const key = list ? v.issues?.[0]?.key : v.key;
    return typeof key === 'string' && /^[A-Z][A-Z0-9_]*-\d+$/.test(key) ? key : undefined;
  } catch {
    return undefined;
  }
}

export const jira = {
  id: 'jira' as const,
  title: 'Jira',
  summary:
    'REST API v3 (Cloud) or v2 (Server / Data Center) `POST /issue` once per incident in the configured project and issue type, labelled with the incident (a retry finds the issue instead of filing it twice)',
  secretEnvs: [JIRA_TOKEN_ENV],
  configSchema: jiraSinkConfigSchema,
  create: createJiraSink,
} satisfies SinkDefinition<JiraSinkConfig>;
