// A deploy with no trace: a deployment that cannot be followed back to a commit, a CI build or a
// published artefact, or that reached an environment which requires an approval with no approver on it.
// Judged on the deploy event's own correlation fields (src/trail); `GET /api/trace?deployment=` shows the
// whole chain across sources with its gaps named (no passing build, no artefact publish, no approval).
import { z } from 'zod';
import { MINUTE } from '../../src/detect/config.ts';
import type { Detector, Match } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import type { CoverageRow } from '../owasp.ts';

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Environments (exact, case-insensitive) where a deploy must carry an approver. */
    requireApproval: z.array(z.string().min(1)).default([]),
  })
  .prefault({});
export type DeployWithoutTraceConfig = z.output<typeof configSchema>;

// Reviews, protection rules and the ends of failed or removed deploys are not deploys of a change.
const NOT_A_DEPLOY = /review|approv|protection_rule|delete|abort|fail|cancel/i;

function where(e: PipewardenEvent): string {
  const p = e.pipewarden;
  return `${p.repository ?? p.artifact ?? 'an unnamed target'}${p.environment ? ` to ${p.environment}` : ''}${e.user?.name ? ` by ${e.user.name}` : ''}`;
}

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = [
  {
    row: 'untraceable-deploy',
    what: 'a deploy that names no commit, CI build or artefact digest',
    owasp: ['CICD-SEC-1', 'CICD-SEC-9'],
    sources: ['github', 'gitlab', 'azure-devops', 'artifactory'],
  },
  {
    row: 'deploy-without-approval',
    what: 'a deploy to an environment that requires approval, with no approver recorded',
    owasp: ['CICD-SEC-1'],
    sources: ['github', 'gitlab', 'azure-devops'],
  },
];

export const deployWithoutTrace: Detector<DeployWithoutTraceConfig> = {
  id: 'deploy-without-trace',
  title: 'Deploy with no trace',
  severity: 'high',
  description:
    'A deployment that carries no commit, CI build or artefact to trace it back to, or that reached an environment requiring approval without an approver.',
  runbook: 'detectors/deploy-without-trace/README.md#runbook',
  reference: 'https://slsa.dev/spec/v1.0/requirements',
  configSchema,
  coverage,
  appliesTo: (e) =>
    e.pipewarden.kind === 'deploy' && e.event.outcome !== 'failure' && !NOT_A_DEPLOY.test(e.event.action),
  key: (e) => e.pipewarden.deployment_id ?? e.pipewarden.commit ?? e.pipewarden.repository ?? e.event.id,
  dedupMs: 60 * MINUTE, // a deployment and its status updates are one report
  match(e, { config }) {
    const p = e.pipewarden;
    const out: Match[] = [];
    if (!p.commit && !p.build_id && !p.build_url && !p.artifact_digest) {
      out.push({
        summary: `Deploy of ${where(e)} cannot be traced: it names no commit, CI build or artefact digest`,
        context: { rule: 'untraceable', environment: p.environment ?? null, action: e.event.action },
      });
    }
    const env = p.environment?.toLowerCase();
    if (env && config.requireApproval.some((r) => r.toLowerCase() === env) && !p.approvers?.length) {
      out.push({
        summary: `Deploy of ${where(e)} has no approver, and ${p.environment} requires one`,
        context: { rule: 'no-approval', environment: p.environment ?? null, action: e.event.action },
      });
    }
    return out.length ? out : null;
  },
};
