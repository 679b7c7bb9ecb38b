// A deploy with no trace: a deployment that cannot be followed back to a commit, a CI build or a
// published artefact, or that reached an environment which requires an approval with no approver on it.
// `match` judges the deploy event's own correlation fields. Across sources, `crossSourceFinding` judges a
// deploy by its trace (src/trail/trace.ts: the events of every source that share its commit, build or
// artefact): no passing build and no artefact published by CI is a finding. The trace is read from the
// store, which holds every source's events, by a scheduled check under the index role
// (src/trail/deploy-check.ts) once the deploy is `crossSource.graceMinutes` old, so a build event that
// arrives late still counts.
import { z } from 'zod';
import { MINUTE } from '../../src/detect/config.ts';
import type { Detector, Match } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import type { Trace } from '../../src/trail/trace.ts';
import type { CoverageRow } from '../owasp.ts';

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Environments (exact, case-insensitive) where a deploy must carry an approver. */
    requireApproval: z.array(z.string().min(1)).default([]),
    /** The cross-source check: a deploy whose commit has no passing build and no artefact published by CI. */
    crossSource: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** How long after a deploy its build or publish may still arrive before it is judged. */
        graceMinutes: z.number().int().min(1).max(1440).default(15),
      })
      .prefault({}),
  })
  .prefault({});
export type DeployWithoutTraceConfig = z.output<typeof configSchema>;

// Reviews, protection rules and the ends of failed or removed deploys are not deploys of a change.
const NOT_A_DEPLOY = /review|approv|protection_rule|delete|abort|fail|cancel/i;

function where(e: PipewardenEvent): string {
  const p = e.pipewarden;
  return `${p.repository ?? p.artifact ?? 'an unnamed target'}${p.environment ? ` to ${p.environment}` : ''}${e.user?.name ? ` by ${e.user.name}` : ''}`;
}

/** Is this event a deploy of a change (not a review, a deletion or a failed deploy)? Pure. */
export function isDeploy(e: PipewardenEvent): boolean {
  return (
    e.pipewarden.kind === 'deploy' && e.event.outcome !== 'failure' && !NOT_A_DEPLOY.test(e.event.action)
  );
}

/**
 * The cross-source rule (`no-build`): the deploy's trace shows no passing build and no artefact
 * published by CI (a publish that names the build or commit it came from). Pure. A deploy that names
 * nothing to trace is `match`'s `untraceable`, not this.
 */
export function crossSourceFinding(deploy: PipewardenEvent, trace: Trace): Match | null {
  const p = deploy.pipewarden;
  if (!p.commit && !p.build_id && !p.artifact_digest) return null;
  const passingBuild = trace.steps.some((s) => s.stage === 'build' && s.outcome === 'success');
  const ciPublish = trace.steps.some(
    (s) =>
      s.stage === 'artifact' &&
      s.outcome !== 'failure' &&
      (s.build_id !== undefined || s.commit !== undefined),
  );
  if (passingBuild || ciPublish) return null;
  const builds = trace.steps.filter((s) => s.stage === 'build').length;
  const what = p.commit
    ? `commit ${p.commit.slice(0, 12)}`
    : p.build_id
      ? `build ${p.build_id}`
      : 'its artefact';
  return {
    summary: `Deploy of ${where(deploy)}: no passing build of ${what} and no artefact published by CI is known${builds ? ` (${builds} build event(s), none passing)` : ''}`,
    context: {
      rule: 'no-build',
      environment: p.environment ?? null,
      commit: p.commit ?? null,
      build: p.build_id ?? null,
      builds,
    },
  };
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
    row: 'deploy-without-build',
    what: 'a deploy whose commit has no passing build and no artefact published by CI, across sources',
    owasp: ['CICD-SEC-1', 'CICD-SEC-4'],
    sources: ['github', 'gitlab', 'jenkins', 'artifactory'],
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
    'A deployment that carries no commit, CI build or artefact to trace it back to, whose commit has no passing build and no artefact published by CI in any source, or that reached an environment requiring approval without an approver.',
  runbook: 'detectors/deploy-without-trace/README.md#runbook',
  reference: 'https://slsa.dev/spec/v1.0/requirements',
  configSchema,
  coverage,
  appliesTo: (e) => isDeploy(e),
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
