// Account takeover attempts that need no password: a GitLab password reset asked for several addresses
// at once (CVE-2023-7028: the reset link also goes to an address the attacker controls). Read from
// production_json.log, audit_json.log (gitlab-logs) and streamed audit events (gitlab-audit), whose adapters
// count the addresses into `pipewarden.change` ("password reset emails").
import { z } from 'zod';
import type { Detector } from '../../src/detect/types.ts';
import type { CoverageRow } from '../owasp.ts';

const configSchema = z.strictObject({ enabled: z.boolean().default(true) }).prefault({});
type Config = z.output<typeof configSchema>;

const FIELD = 'password reset emails';

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = [
  {
    row: 'password-reset-multiple-emails',
    what: 'a password reset sent to several addresses (CVE-2023-7028)',
    owasp: ['CICD-SEC-2', 'CICD-SEC-7'],
    sources: ['gitlab-logs', 'gitlab-audit'],
  },
];

export const accountTakeover: Detector<Config> = {
  id: 'account-takeover',
  title: 'Account takeover attempt',
  severity: 'critical',
  description:
    'A GitLab password reset was asked for several email addresses at once (CVE-2023-7028): the reset link also goes to an address the requester chose.',
  runbook: 'detectors/account-takeover/README.md#runbook',
  reference: 'https://about.gitlab.com/releases/2024/01/11/critical-security-release-gitlab-16-7-2-released/',
  configSchema,
  coverage,

  appliesTo(event) {
    return event.pipewarden.change?.field === FIELD;
  },

  key(event) {
    return event.source?.ip ?? event.user?.name ?? 'global';
  },

  match(event) {
    const n = Number(event.pipewarden.change?.to);
    if (!(n > 1)) return null;
    return {
      summary: `A GitLab password reset was asked for ${n} email addresses at once${event.source?.ip ? ` from ${event.source.ip}` : ''} (CVE-2023-7028 exploitation attempt)`,
      context: {
        action: event.event.action,
        dataset: event.event.dataset,
        addresses: n,
        ...(event.source?.ip ? { source_ip: event.source.ip } : {}),
      },
    };
  },
};
