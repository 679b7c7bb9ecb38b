// Findings the source itself raises, and their silencing: a new secret-scanning alert (a live credential
// was committed), and Dependabot, code scanning and secret scanning alerts dismissed or closed as "won't
// fix" / "false positive" (a finding taken off the board without a fix). GitHub webhooks and audit log.
import { z } from 'zod';
import type { Severity } from '../../src/alerting/types.ts';
import type { Detector } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { table } from '../../src/util/table.ts';
import type { CoverageRow } from '../owasp.ts';

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    newSecrets: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
    dismissals: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Resolutions that mean "fixed at the source": not reported. Lower case, as GitHub writes them. */
        fixedResolutions: z.array(z.string().min(1)).default(['revoked', 'fixed', 'fix_started']),
      })
      .prefault({}),
    ignoreActors: z.array(z.string().min(1)).default([]),
    ignoreRepositories: z.array(z.string().min(1)).default([]),
  })
  .prefault({});

type Config = z.output<typeof configSchema>;

interface Row {
  check: 'new-secret' | 'dismissal';
  what: string;
  severity: Severity;
}

/** GitHub webhook (`<event>.<action>`) and audit-log action names, per GitHub's payload and audit references. */
const ACTIONS = table<Row>({
  'secret_scanning_alert.created': {
    check: 'new-secret',
    what: 'A secret was committed (secret scanning alert)',
    severity: 'high',
  },
  'secret_scanning_alert.create': {
    check: 'new-secret',
    what: 'A secret was committed (secret scanning alert)',
    severity: 'high',
  },
  'secret_scanning_alert.reopened': {
    check: 'new-secret',
    what: 'A secret scanning alert was reopened',
    severity: 'medium',
  },
  'secret_scanning_alert.reopen': {
    check: 'new-secret',
    what: 'A secret scanning alert was reopened',
    severity: 'medium',
  },
  'secret_scanning_alert.resolved': {
    check: 'dismissal',
    what: 'closed a secret scanning alert',
    severity: 'medium',
  },
  'secret_scanning_alert.resolve': {
    check: 'dismissal',
    what: 'closed a secret scanning alert',
    severity: 'medium',
  },
  'dependabot_alert.dismissed': {
    check: 'dismissal',
    what: 'dismissed a Dependabot alert',
    severity: 'medium',
  },
  'dependabot_alert.auto_dismissed': {
    check: 'dismissal',
    what: 'auto-dismissed a Dependabot alert',
    severity: 'low',
  },
  'repository_vulnerability_alert.dismiss': {
    check: 'dismissal',
    what: 'dismissed a Dependabot (vulnerability) alert',
    severity: 'medium',
  },
  'dependabot_alerts.dismiss': {
    check: 'dismissal',
    what: 'dismissed a Dependabot alert',
    severity: 'medium',
  },
  'code_scanning_alert.closed_by_user': {
    check: 'dismissal',
    what: 'dismissed a code scanning alert',
    severity: 'medium',
  },
  'code_scanning_alert.dismiss': {
    check: 'dismissal',
    what: 'dismissed a code scanning alert',
    severity: 'medium',
  },
});

function row(e: PipewardenEvent): Row | undefined {
  return ACTIONS[e.event.action];
}

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = [
  {
    row: 'new-secret',
    what: 'a secret-scanning alert raised (a credential committed)',
    owasp: ['CICD-SEC-6'],
    sources: ['github', 'github-audit'],
  },
  {
    row: 'dismissal',
    what: 'Dependabot, code scanning, secret scanning alerts dismissed or closed without a fix',
    owasp: ['CICD-SEC-3', 'CICD-SEC-6'],
    sources: ['github', 'github-audit'],
  },
];

export const securityAlertTriage: Detector<Config> = {
  id: 'security-alert-triage',
  title: 'Security alert raised or dismissed',
  severity: 'medium',
  description:
    'A source raised a secret-scanning alert (a credential was committed), or a Dependabot, code scanning or secret scanning alert was dismissed or closed without a fix (won’t fix, false positive, used in tests).',
  runbook: 'detectors/security-alert-triage/README.md#runbook',
  reference:
    'https://docs.github.com/en/code-security/secret-scanning/managing-alerts-from-secret-scanning/resolving-alerts-from-secret-scanning',
  configSchema,
  coverage,
  dedupMs: 0,

  appliesTo(event, config) {
    return (
      row(event) !== undefined &&
      !config.ignoreActors.includes(event.user?.name ?? '') &&
      !config.ignoreRepositories.includes(event.pipewarden.repository ?? '')
    );
  },

  key(event) {
    return event.pipewarden.repository ?? event.organization?.name ?? 'global';
  },

  match(event, { config }) {
    const r = row(event);
    if (!r) return null;
    const where = event.pipewarden.repository ?? event.organization?.name ?? 'an unknown repository';
    const context = { action: event.event.action, check: r.check, repository: where };
    if (r.check === 'new-secret') {
      if (!config.newSecrets.enabled) return null;
      return { summary: `${r.what} on ${where}`, severity: r.severity, context };
    }
    if (!config.dismissals.enabled) return null;
    const resolution =
      event.pipewarden.change?.field === 'resolution' ? event.pipewarden.change.to : undefined;
    if (resolution && config.dismissals.fixedResolutions.includes(resolution)) return null;
    return {
      summary: `${event.user?.name ?? 'Someone'} ${r.what}${resolution ? ` as ${resolution.replace(/_/g, ' ')}` : ''} on ${where}`,
      severity: r.severity,
      context: { ...context, ...(resolution ? { resolution } : {}) },
    };
  },
};
